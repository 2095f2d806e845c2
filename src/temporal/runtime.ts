/**
 * The Temporal SDK's process-wide runtime: its logs (worker, workflow logger, Core) go through our pino logger.
 * Must be installed before the first native connection; later calls are no-ops.
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from '../log';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata) {
    this.pino[LEVELS[level]]({ ...meta }, message);
  }
  trace(message: string, meta?: LogMetadata) {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata) {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata) {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  }
}

let installed = false;

/**
 * Installs the runtime once per process. With `metricsPort` > 0 the SDK's own worker metrics (task slots,
 * schedule-to-start latencies, polls) are served for Prometheus on `metricsHost`: loopback unless a deployment
 * binds its listeners wider (`MEMOIR_API_HOST`, as the compose stack does for Prometheus to scrape).
 */
export function installTemporalRuntime(log: Logger, metricsPort = 0, metricsHost = '127.0.0.1'): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new PinoTemporalLogger(log.child({ component: 'temporal' })),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(metricsPort > 0
        ? {
            metrics: {
              prometheus: { bindAddress: `${metricsHost}:${metricsPort}`, useSecondsForDurations: true },
              metricPrefix: 'temporal_',
            },
          }
        : {}),
    },
  });
}
