/**
 * Prometheus metrics (prom-client). Labels carry only bounded values — model, purpose, outcome, phase, tier,
 * error type — never a conversation, user or tenant id: a per-conversation label would grow the series count
 * without bound (the classic `session_id` cardinality bomb).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  /** Stored turns by outcome (`ok`, `degraded`) and the model that answered (`none` when degraded). */
  readonly turns = new Counter({
    name: 'memoir_turns_total',
    help: 'Turns stored, by outcome and model',
    labelNames: ['outcome', 'model'] as const,
    registers: [this.registry],
  });

  /** Seconds per phase of a turn: `context`, `model`, `persist` (activities) and `total` (API round trip). */
  readonly turnDuration = new Histogram({
    name: 'memoir_turn_duration_seconds',
    help: 'Turn duration by phase',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });

  readonly timeToFirstToken = new Histogram({
    name: 'memoir_time_to_first_token_seconds',
    help: 'Time from the model call to its first streamed text',
    labelNames: ['model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });

  /** Tokens of assembled context by tier (`system`, `summary`, `facts`, `recent`, `semantic`, `older`, `current`). */
  readonly contextTokens = new Counter({
    name: 'memoir_context_tokens_total',
    help: 'Estimated tokens of assembled context, by tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  /** Tokens billed by model and kind (`input`, `output`, `cache_read`, `cache_write`). */
  readonly modelTokens = new Counter({
    name: 'memoir_model_tokens_total',
    help: 'Tokens reported by the model API, by model and kind',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  });

  /** Prompt size of each successful call (input + cache read + cache write), to catch runaway contexts. */
  readonly promptTokens = new Histogram({
    name: 'memoir_model_prompt_tokens',
    help: 'Prompt tokens per model call',
    labelNames: ['model'] as const,
    buckets: [1_000, 4_000, 16_000, 32_000, 64_000, 100_000, 150_000, 200_000, 500_000, 1_000_000],
    registers: [this.registry],
  });

  readonly costUsd = new Counter({
    name: 'memoir_cost_usd_total',
    help: 'Model spend in USD, by model and purpose (reply, summary, facts)',
    labelNames: ['model', 'purpose'] as const,
    registers: [this.registry],
  });

  /** Model call attempts by outcome (`ok` or the failure type). */
  readonly modelCalls = new Counter({
    name: 'memoir_model_calls_total',
    help: 'Model call attempts, by model, purpose and outcome',
    labelNames: ['model', 'purpose', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Failed attempts that Temporal will retry, by error type. */
  readonly retries = new Counter({
    name: 'memoir_model_retries_total',
    help: 'Failed model attempts that will be retried, by model and error type',
    labelNames: ['model', 'error_type'] as const,
    registers: [this.registry],
  });

  readonly fallbacks = new Counter({
    name: 'memoir_model_fallbacks_total',
    help: 'Times the model chain moved past a model, by that model and why',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  });

  readonly degradedReplies = new Counter({
    name: 'memoir_degraded_replies_total',
    help: 'Turns answered with the degraded reply because no model answered',
    registers: [this.registry],
  });

  readonly compactions = new Counter({
    name: 'memoir_compactions_total',
    help: 'Rolling-summary compactions, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly compressionRatio = new Histogram({
    name: 'memoir_compaction_compression_ratio',
    help: 'Tokens folded into a summary divided by the summary tokens',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  readonly tierErrors = new Counter({
    name: 'memoir_tier_errors_total',
    help: 'Memory tier failures that were degraded around, by tier (hot, semantic, embedder, cache)',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly degradedContext = new Counter({
    name: 'memoir_degraded_context_total',
    help: 'Turns whose context was assembled without a tier that was down, by tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly indexingLag = new Gauge({
    name: 'memoir_indexing_lag_seconds',
    help: 'Age of the oldest message not yet in the semantic index',
    registers: [this.registry],
  });

  readonly indexingBacklog = new Gauge({
    name: 'memoir_indexing_backlog',
    help: 'Messages waiting to be indexed',
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'memoir_http_requests_total',
    help: 'API requests, by route template, method and status class',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'memoir_process_' });
  }

  /** Records one model call's token usage and cost. */
  recordCall(
    model: string,
    purpose: string,
    usage: { input: number; output: number; cacheRead: number; cacheWrite: number; costUsd: number },
  ) {
    this.modelTokens.inc({ model, kind: 'input' }, usage.input);
    this.modelTokens.inc({ model, kind: 'output' }, usage.output);
    this.modelTokens.inc({ model, kind: 'cache_read' }, usage.cacheRead);
    this.modelTokens.inc({ model, kind: 'cache_write' }, usage.cacheWrite);
    this.promptTokens.observe({ model }, usage.input + usage.cacheRead + usage.cacheWrite);
    this.costUsd.inc({ model, purpose }, usage.costUsd);
    this.modelCalls.inc({ model, purpose, outcome: 'ok' });
  }
}
