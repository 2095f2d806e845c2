/**
 * OpenTelemetry tracing across client → workflow → activities (Temporal's OpenTelemetry plugin), off by default.
 * `MEMOIR_TRACING=otlp` exports over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter's own standard
 * variables apply); `console` prints spans, for a first look.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config';

export interface Tracing {
  plugin: OpenTelemetryPlugin;
  /** Flushes spans still buffered (call before exit). */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The tracing plugin for this process (one provider per process), or undefined when tracing is off. */
export function tracing(config: Config): Tracing | undefined {
  if (config.tracing === 'off') return undefined;
  if (active) return active;
  const resource = new Resource({ 'service.name': config.serviceName });
  const spanProcessor: SpanProcessor =
    config.tracing === 'otlp'
      ? new BatchSpanProcessor(
          new OTLPTraceExporter(
            config.otlpEndpoint ? { url: `${config.otlpEndpoint.replace(/\/$/, '')}/v1/traces` } : {},
          ),
          { scheduledDelayMillis: 500 },
        )
      : new SimpleSpanProcessor(new ConsoleSpanExporter());
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  // The W3C propagator carries the trace in Temporal headers; the async-hooks context manager keeps the active
  // span across awaits, so client, workflow and activity spans join one trace.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const plugin = new OpenTelemetryPlugin({ resource, spanProcessor });
  active = {
    plugin,
    shutdown: async () => {
      await provider.forceFlush();
    },
  };
  return active;
}
