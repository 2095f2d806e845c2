/**
 * `memoir serve`: worker and API in one process on whatever the configuration chose (embedded by default).
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import { startApi, apiKeys, type RunningApi } from '../runtime/api';
import { startMetricsServer } from '../runtime/metrics-server';
import { openServices, type Services } from '../runtime/services';
import { startWorker, type RunningWorker, type WorkflowSource } from '../runtime/worker';

export interface Serving {
  services: Services;
  worker?: RunningWorker;
  api?: RunningApi;
  stop(): Promise<void>;
}

export interface ServeParts {
  worker: boolean;
  api: boolean;
  keepTemporal?: boolean;
  progress?: (message: string) => void;
  /** Prebuilt workflow bundle (tests share one); default: bundle the sources. */
  workflowSource?: WorkflowSource;
}

export async function serve(config: Config, log: Logger, parts: ServeParts): Promise<Serving> {
  const progress = parts.progress ?? ((m: string) => log.info(m));
  const services = await openServices(config, log, { progress, keepTemporal: parts.keepTemporal ?? false });
  let worker: RunningWorker | undefined;
  let api: RunningApi | undefined;
  let metricsServer: { url: string; close(): Promise<void> } | undefined;
  try {
    if (parts.worker) {
      progress('Starting the worker…');
      worker = await startWorker(services, parts.workflowSource);
    }
    if (parts.api) api = await startApi(services);
    else if (config.metrics.port > 0)
      metricsServer = await startMetricsServer(services.metrics, config.api.host, config.metrics.port);
  } catch (err) {
    await worker?.stop();
    await services.close();
    throw err;
  }
  return {
    services,
    ...(worker ? { worker } : {}),
    ...(api ? { api } : {}),
    async stop() {
      await metricsServer?.close();
      await api?.close();
      await worker?.stop();
      await services.close();
    },
  };
}

export function describeServing(s: Serving): string {
  const lines = [...s.services.choices];
  if (s.api) {
    lines.push(`HTTP API: ${s.api.url}`);
    const demoKey = s.services.config.api.keys ? undefined : apiKeys(s.services)[0];
    if (demoKey) lines.push(`API key (tenant ${demoKey.tenantId}): ${demoKey.key}`);
  }
  if (s.services.temporal.uiUrl) lines.push(`Temporal UI: ${s.services.temporal.uiUrl}`);
  return lines.map((l) => `  ${l}`).join('\n');
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
