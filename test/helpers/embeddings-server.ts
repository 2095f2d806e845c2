/**
 * A stand-in embeddings provider: an OpenAI-compatible `POST /v1/embeddings` on a loopback port of its own that a
 * test can take down and bring back on the same port. Vectors come from the project's local embedder, so recall
 * still works while it is up.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalEmbedder } from '../../src/memory/embedders/local';

export interface EmbeddingsServer {
  /** Base URL ending in `/v1`, as `MEMOIR_EMBEDDINGS_URL` expects. */
  url: string;
  model: string;
  dimensions: number;
  /** Requests answered with vectors so far. */
  served(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function embeddingsServer(dimensions = 128): Promise<EmbeddingsServer> {
  const embedder = new LocalEmbedder({ dimensions });
  const model = 'fake-embed-1';
  let served = 0;
  let port = 0;
  let server: http.Server | undefined;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
          return;
        }
        const input = (JSON.parse(body) as { input: string[] | string }).input;
        const texts = Array.isArray(input) ? input : [input];
        const vectors = await embedder.embed(texts, 'document');
        served++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            object: 'list',
            model,
            data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
            usage: { prompt_tokens: 0, total_tokens: 0 },
          }),
        );
      })();
    });
  };

  const start = async () => {
    const s = http.createServer(handle);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    model,
    dimensions,
    served: () => served,
    start,
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      // Refuse new connections and cut the kept-alive ones: a provider that is down answers nothing.
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
