/**
 * `/metrics` for a worker-only process (the API serves its own on the API port).
 */
import Fastify from 'fastify';
import type { Metrics } from '../metrics';

export async function startMetricsServer(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  const url = await app.listen({ host, port });
  return { url, close: () => app.close() };
}
