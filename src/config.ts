/**
 * Configuration, read once from the environment and validated at start-up. Every setting has an embedded default,
 * so an empty environment is a working single-process deployment; setting the URLs turns it into a production one.
 * The README's configuration table is generated from `SETTINGS` (`npm run docs:config`).
 */
import path from 'node:path';
import { z } from 'zod';
import { ID_PATTERN, type ConversationPolicy } from '../workflows/contract';
import { parseDuration } from './duration';
import { readSettings } from './settings';
import { CODEC_SETTINGS, loadCodecSettings, type CodecSettings } from './codec/settings';
import { mcpServersSetting, type McpServerConfig } from './tools/mcp-config';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a duration: "${text}" (use 500ms, 30s, 5m, 2h, 7d)` });
        return z.NEVER;
      }
      return ms;
    });
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));
/**
 * `tenant:key,...`. A tenant id cannot hold `:`, so an entry splits at its first `:` and the key keeps any later ones
 * (`split(':', 2)` would silently cut such a key short). A key cannot hold `,`, the list separator.
 */
const apiKeys = list.transform((pairs, ctx) =>
  pairs.map((pair, i) => {
    const at = pair.indexOf(':');
    const tenantId = at < 0 ? '' : pair.slice(0, at);
    const key = at < 0 ? '' : pair.slice(at + 1);
    if (!ID_PATTERN.test(tenantId) || key.length < 16) {
      ctx.addIssue({
        code: 'custom',
        message: `entry ${i + 1}: each entry is tenant:key, with a tenant id matching [A-Za-z0-9._-]{1,128} and a key of 16+ characters (no commas)`,
      });
      return z.NEVER;
    }
    return { tenantId, key };
  }),
);

const fraction = z.coerce.number().min(0.05).max(1);
/** The recall gate's default threshold, tuned on the LoCoMo development split (src/context/recall-gate.ts). */
const GATE_DEFAULT = 4.5;
const jsonRecord = z.string().transform((text, ctx) => {
  try {
    return z.record(z.string(), z.number().int().positive()).parse(JSON.parse(text));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected JSON like {"claude-sonnet-5-5": 1024}' });
    return z.NEVER;
  }
});
const budgets = list.transform((entries, ctx) => {
  const out: Record<string, number> = {};
  for (const entry of entries) {
    const [tenant, usd] = entry.includes(':') ? entry.split(':', 2) : ['*', entry];
    const value = Number(usd);
    if (!tenant || !Number.isFinite(value) || value < 0) {
      ctx.addIssue({ code: 'custom', message: `bad budget entry "${entry}" (use 10 or tenant:10)` });
      continue;
    }
    out[tenant] = value;
  }
  return out;
});

/** One row per setting: its schema with default, and what it does (for the README table). */
export const SETTINGS = {
  MEMOIR_DATA_DIR: [
    z.string().default('.data'),
    'Where the embedded services keep their data (PGlite, Temporal dev server, keys).',
  ],
  TEMPORAL_ADDRESS: [
    optionalText,
    'Temporal frontend `host:port`. Unset: start a file-backed dev server in the data directory.',
  ],
  TEMPORAL_NAMESPACE: [z.string().default('default'), 'Temporal namespace.'],
  MEMOIR_TASK_QUEUE: [z.string().default('memoir'), 'Task queue of the conversation workflows and their activities.'],
  MEMOIR_WORKER_VERSIONING: [
    z.enum(['auto', 'manual', 'off']).default('auto'),
    'Worker versioning: `auto` makes a new worker current, `manual` waits for the operator, `off`: unversioned.',
  ],
  MEMOIR_DEPLOYMENT_NAME: [optionalText, 'Worker deployment name. Unset: the task queue.'],
  MEMOIR_BUILD_ID: [
    optionalText,
    'Build id of this worker version. Unset: the hash of its workflow bundle (dist/build-info.json).',
  ],
  MEMOIR_WORKER_IDENTITY: [
    optionalText,
    'Worker identity, written ~11 times a turn into history. Unset: the SDK default `<pid>@<hostname>`.',
  ],
  TEMPORAL_CLI: [
    optionalText,
    'Path of the `temporal` CLI used for the embedded dev server (else PATH, then `$GOPATH/bin`).',
  ],
  MEMOIR_TEMPORAL_PORT: [int(1, 65535).default(7233), 'Port of the embedded Temporal dev server.'],
  MEMOIR_TEMPORAL_UI_PORT: [int(1, 65535).default(8233), 'Port of the embedded dev server Web UI.'],
  TEMPORAL_UI_URL: [
    optionalText,
    'Web UI base URL printed for operators. Unset: the embedded UI, or none for an external server.',
  ],
  DATABASE_URL: [
    optionalText,
    'PostgreSQL connection string. Unset: PGlite (in-process PostgreSQL) in the data directory.',
  ],
  MEMOIR_DB_POOL: [int(1, 200).default(10), 'PostgreSQL pool size per process.'],
  MEMOIR_PG_STATEMENTS: [
    z.enum(['prepared', 'unnamed']).default('prepared'),
    'How statements reach PostgreSQL: `prepared` (each parsed and planned once per connection) or `unnamed` (for a pooler that cannot keep named statements, e.g. PgBouncer < 1.21 in transaction mode).',
  ],
  MEMOIR_REPLY_ON_COMMIT: [
    z.enum(['on', 'off']).default('on'),
    'With PostgreSQL: workers announce each stored turn (NOTIFY) and the API answers on it, a workflow task sooner (docs/operations.md). `off` for a pooler that drops notifications.',
  ],
  REDIS_URL: [optionalText, 'Redis for the hot tier and caches. Unset: in-process caches only.'],
  ANTHROPIC_API_KEY: [optionalText, 'Claude API key. Unset: the built-in offline model answers (and says so).'],
  ANTHROPIC_BASE_URL: [optionalText, 'Messages API base URL (a proxy or gateway).'],
  MEMOIR_MODELS: [
    list.pipe(z.array(z.string().min(1)).min(1)).default(['claude-sonnet-5-5', 'claude-haiku-5-5']),
    'Model chain: the primary first, then fallbacks in order.',
  ],
  MEMOIR_MODEL_ATTEMPTS: [int(1, 20).default(3), 'Attempts per model before the chain moves to the next model.'],
  MEMOIR_MODEL_TIMEOUT: [duration('60s'), 'Timeout of one model call attempt.'],
  MEMOIR_MODEL_CALL: [
    z.enum(['activity', 'local']).default('activity'),
    'Model call of a turn without tools: `activity` or `local` (a long call handed over; docs/operations.md). Set on API and workers.',
  ],
  MEMOIR_TURN_DEADLINE: [
    duration('120s'),
    'Bound on the whole model chain of one turn; past it the reply is degraded.',
  ],
  MEMOIR_DEGRADED_REPLY: [
    z
      .string()
      .min(1)
      .default(
        "I'm sorry — I can't reach the language model right now. Your message is saved; please try again in a moment.",
      ),
    'Reply sent (marked `degraded: true`) when every model failed.',
  ],
  MEMOIR_MAX_TOKENS: [int(1, 128_000).default(1024), 'max_tokens of a reply.'],
  MEMOIR_SYSTEM_PROMPT: [
    z.string().min(1).default('You are a helpful assistant with a long-term memory of this conversation.'),
    'System prompt of conversations created without one.',
  ],
  MEMOIR_MAX_CONTENT_BYTES: [int(1, 1_000_000).default(32 * 1024), 'Largest accepted message, in UTF-8 bytes.'],
  MEMOIR_RECENT_MESSAGES: [int(0, 1000).default(10), 'Messages always sent verbatim (the newest N).'],
  MEMOIR_TURNS_PER_RUN: [int(1, 10_000).default(200), 'Continue-as-new after this many turns in one workflow run.'],
  MEMOIR_IDLE_TIMEOUT: [
    duration('7d'),
    'A conversation idle this long completes its workflow; the next message restarts it.',
  ],
  MEMOIR_CONTEXT_BUDGET: [int(500, 1_000_000).default(16_000), 'Token budget of the context assembled for a turn.'],
  MEMOIR_RECALL_TOP_K: [
    int(0, 200).default(5),
    'Recalled memories always made room for each turn (a floor: recall fills whatever budget is left).',
  ],
  MEMOIR_RECALL_SHARE: [
    fraction.default(0.7),
    "Share of a preview's budget reserved for recall before the window since the last compaction is filled (a turn reserves what its top k need).",
  ],
  MEMOIR_RECALL_GATE: [
    z.coerce.number().min(0).max(1000).default(GATE_DEFAULT),
    'Recall gate: a turn recalls when its best BM25 hit outside the context scores this much if it asks, 3× if it states (0: always).',
  ],
  MEMOIR_ARCHIVE_SHARE: [
    z.coerce.number().min(0.01).max(1).default(0.03),
    'Cap of the archive (summary, facts, older messages) as a share of the budget.',
  ],
  MEMOIR_TIER_TIMEOUT: [duration('2s'), 'A memory tier slower than this is left out of the turn (and flagged).'],
  MEMOIR_HOT_TTL: [duration('1h'), "How long Redis keeps a conversation's recent messages (hot tier)."],
  MEMOIR_SUMMARY_MODEL: [
    z.string().min(1).default('claude-haiku-5-5'),
    'Model that writes rolling summaries and extracts facts.',
  ],
  MEMOIR_COMPACT_AFTER_MESSAGES: [
    int(4, 10_000).default(40),
    'Compact when this many messages are not yet summarised…',
  ],
  MEMOIR_COMPACT_AFTER_TOKENS: [int(500, 1_000_000).default(6_000), '…or when they hold this many tokens.'],
  MEMOIR_COMPACT_WHEN_IDLE: [duration('10m'), 'Compact and extract facts after this long without a message.'],
  MEMOIR_FACTS_EVERY: [int(1, 1000).default(4), 'Extract facts every N turns.'],
  MEMOIR_MAX_TOOL_STEPS: [
    int(1, 50).default(8),
    'Model steps one turn may take while calling tools; past it the turn ends with a final reply.',
  ],
  MEMOIR_TOOL_APPROVAL_TIMEOUT: [
    duration('15m'),
    'How long a tool call that needs approval waits for a decision before the model is told it timed out.',
  ],
  MEMOIR_MCP_SERVERS: [
    mcpServersSetting.optional(),
    'MCP servers whose tools conversations may use: a JSON list of stdio or HTTP servers (see Tools).',
  ],
  MEMOIR_TOOLS_MODULE: [
    optionalText,
    'Path of a JS/TS module exporting `tools` (made with defineTool) that conversations may call; see README "Tools".',
  ],
  MEMOIR_SEMANTIC_STORE: [
    z.enum(['auto', 'weaviate', 'pgvector', 'off']).default('auto'),
    '`auto`: Weaviate when WEAVIATE_URL is set, pgvector on PGlite, off on a PostgreSQL server without Weaviate.',
  ],
  WEAVIATE_URL: [optionalText, 'Weaviate HTTP URL, e.g. http://127.0.0.1:8080 (gRPC on WEAVIATE_GRPC_PORT).'],
  WEAVIATE_GRPC_PORT: [int(1, 65535).default(50051), 'Weaviate gRPC port.'],
  WEAVIATE_API_KEY: [optionalText, 'Weaviate API key, if it needs one.'],
  MEMOIR_WEAVIATE_COLLECTION: [
    z
      .string()
      .regex(/^[A-Z][A-Za-z0-9_]*$/)
      .default('MemoirMemory'),
    'Weaviate collection (one per embedder dimension).',
  ],
  MEMOIR_EMBEDDER: [
    z.enum(['auto', 'minilm', 'local', 'voyage', 'openai']).default('auto'),
    '`auto`: Voyage when VOYAGE_API_KEY is set, else `local` (hashing); `minilm`: a neural model in process (docs/embedders.md).',
  ],
  MEMOIR_EMBEDDER_MODEL_DIR: [
    z.string().trim().min(1).default('.memoir/models/minilm-l6-v2'),
    'Files of the `minilm` embedder (all-MiniLM-L6-v2, ONNX, in process): `make setup` (scripts/models.sh) fetches them.',
  ],
  VOYAGE_API_KEY: [optionalText, 'Voyage AI key for embeddings.'],
  MEMOIR_EMBEDDING_MODEL: [optionalText, 'Embedding model (default voyage-3.5 for Voyage; required for `openai`).'],
  MEMOIR_EMBEDDING_DIMENSIONS: [
    z.coerce.number().int().min(8).max(4096).optional(),
    'Vector size (512 local, 1024 Voyage, 384 minilm (fixed); required for `openai`).',
  ],
  MEMOIR_EMBEDDINGS_URL: [
    optionalText,
    'Base URL of an OpenAI-compatible `/v1` embeddings API (Ollama, TEI), or another Voyage endpoint.',
  ],
  MEMOIR_EMBEDDINGS_API_KEY: [optionalText, 'Bearer key for the OpenAI-compatible embeddings API.'],
  MEMOIR_API_HOST: [z.string().default('127.0.0.1'), 'HTTP API bind address.'],
  MEMOIR_API_PORT: [int(0, 65535).default(8787), 'HTTP API port.'],
  MEMOIR_API_KEYS: [
    apiKeys.optional(),
    'API keys as `tenant:key,...` (a key may hold `:`, not `,`). Unset: `serve` creates one for tenant `demo` in the data directory.',
  ],
  MEMOIR_REQUEST_TIMEOUT: [
    duration('30s'),
    'Longest time to receive a whole HTTP request (API and codec server); a slower client gets 408 and is disconnected.',
  ],
  MEMOIR_RATE_LIMIT: [
    int(1, 10_000_000).default(600),
    'Requests per minute per tenant on the API (token bucket; 429 with Retry-After past it).',
  ],
  MEMOIR_RATE_BURST: [int(1, 1_000_000).default(100), 'Largest burst of requests per tenant.'],
  MEMOIR_API_WAIT: [
    duration('90s'),
    'How long a synchronous message request waits for its reply before answering 504 (retry with the same messageId).',
  ],
  MEMOIR_PRICING_FILE: [optionalText, 'JSON file that overrides or extends the pricing table.'],
  MEMOIR_CACHE_TTL: [
    z.enum(['5m', '1h']).default('5m'),
    'TTL of the cached system-prompt prefix (`1h` costs more to write, less to keep warm).',
  ],
  MEMOIR_CACHE_MINIMUMS: [
    jsonRecord.optional(),
    'JSON `{"model": tokens}` overriding the minimum cacheable prefix per model.',
  ],
  MEMOIR_RETRY_MAX_DELAY: [duration('60s'), 'Cap on any model retry delay, including one asked for by `retry-after`.'],
  MEMOIR_RETRY_BASE_DELAY: [duration('1s'), 'First backoff step of a model retry when the API gives no `retry-after`.'],
  MEMOIR_DAILY_BUDGET_USD: [
    budgets.optional(),
    'Daily spend limit per tenant: `10` for all, or `acme:25,*:10`. Past it a turn answers 402.',
  ],
  MEMOIR_METRICS_PORT: [
    int(0, 65535).default(9464),
    'Port of `/metrics` on a worker-only process (`serve` and `api` expose it on the API port); 0 turns it off.',
  ],
  MEMOIR_TEMPORAL_METRICS_PORT: [
    int(0, 65535).default(9465),
    "Port where the Temporal SDK's own worker metrics are exported for Prometheus (bound on `MEMOIR_API_HOST`); 0 turns it off.",
  ],
  MEMOIR_REDACT: [
    z.enum(['off', 'index', 'store', 'model']).default('off'),
    'PII redaction beyond logs (always redacted): `index` the semantic index, `store` also stored messages, `model` also what the model sees.',
  ],
  MEMOIR_REDACT_KEY: [
    optionalText,
    'Key of the audit hashes of redacted values. Unset: one is kept in the data directory.',
  ],
  MEMOIR_TRACING: [
    z.enum(['off', 'otlp', 'console']).default('off'),
    'OpenTelemetry spans across client, workflow and activities: `otlp` exports to OTEL_EXPORTER_OTLP_ENDPOINT.',
  ],
  OTEL_SERVICE_NAME: [z.string().default('memoir'), 'Service name on exported spans.'],
  OTEL_EXPORTER_OTLP_ENDPOINT: [
    optionalText,
    'OTLP/HTTP collector base URL (spans go to `/v1/traces`). Unset: http://localhost:4318.',
  ],
  MEMOIR_LOG_LEVEL: [z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'), 'Log level.'],
} as const;

/** Every setting, for the README's table: the core ones and the encryption ones (read by `codec/settings.ts`). */
export const ALL_SETTINGS = { ...SETTINGS, ...CODEC_SETTINGS };

type Settings = typeof SETTINGS;
type Parsed = { [K in keyof Settings]: z.output<Settings[K][0]> };

export interface Config {
  dataDir: string;
  temporal: {
    /** Undefined: the embedded dev server. */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    /** Worker Deployment Versioning (src/temporal/deployment.ts). */
    versioning: { mode: 'auto' | 'manual' | 'off'; deploymentName: string; buildId: string | undefined };
    /** Undefined: the SDK's `<pid>@<hostname>`. */
    workerIdentity: string | undefined;
    cli: string | undefined;
    devServerPort: number;
    devServerUiPort: number;
    uiUrl: string | undefined;
  };
  databaseUrl: string | undefined;
  dbPoolSize: number;
  /** Statements with parameters sent as named prepared statements (MEMOIR_PG_STATEMENTS). */
  pgPreparedStatements: boolean;
  /**
   * Stored turns announced and heard over LISTEN/NOTIFY (MEMOIR_REPLY_ON_COMMIT, with PostgreSQL only: PGlite's
   * notifications do not reach other processes).
   */
  replyOnCommit: boolean;
  redisUrl: string | undefined;
  anthropic: { apiKey: string | undefined; baseUrl: string | undefined; maxTokens: number };
  policy: ConversationPolicy;
  defaultSystemPrompt: string;
  recentMessages: number;
  api: {
    host: string;
    port: number;
    keys: { tenantId: string; key: string }[] | undefined;
    waitMs: number;
    requestTimeoutMs: number;
    ratePerMinute: number;
    burst: number;
  };
  pricingFile: string | undefined;
  /** Where the worker's own tools come from (memory tools are always offered; MCP servers are configured apart). */
  tools: { module: string | undefined };
  cache: { systemTtl: '5m' | '1h'; minimums: Record<string, number> | undefined };
  retry: { maxDelayMs: number; baseDelayMs: number };
  /** Daily USD limit by tenant; `*` applies to tenants without their own. */
  dailyBudgets: Record<string, number> | undefined;
  metrics: { port: number; temporalPort: number };
  memory: {
    budgetTokens: number;
    recallTopK: number;
    recallShare: number;
    recallGate: number;
    archiveShare: number;
    tierTimeoutMs: number;
    hotTtlMs: number;
    summaryModel: string;
    semanticStore: 'auto' | 'weaviate' | 'pgvector' | 'off';
    weaviate: { url: string | undefined; grpcPort: number; apiKey: string | undefined; collection: string };
    embedder: {
      kind: 'auto' | 'minilm' | 'local' | 'voyage' | 'openai';
      /** Absolute. */
      modelDir: string;
      voyageApiKey: string | undefined;
      model: string | undefined;
      dimensions: number | undefined;
      url: string | undefined;
      apiKey: string | undefined;
    };
  };
  logLevel: Parsed['MEMOIR_LOG_LEVEL'];
  redaction: { policy: Parsed['MEMOIR_REDACT']; key: string | undefined };
  tracing: Parsed['MEMOIR_TRACING'];
  serviceName: string;
  otlpEndpoint: string | undefined;
  encryption: CodecSettings;
  /** MCP servers whose tools the worker offers (`<server>__<tool>`). */
  mcpServers: McpServerConfig[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One problem fits on the one line a CLI error gets; several are listed below it.
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Reads and validates every setting; throws a `ConfigError` listing all problems at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { values, problems } = readSettings(SETTINGS, env);
  let encryption: CodecSettings | undefined;
  try {
    // The default key lives in the data directory, and only the embedded Temporal gets one by default.
    const dataDir = path.resolve((values as Partial<Parsed>).MEMOIR_DATA_DIR ?? '.data');
    encryption = loadCodecSettings(env, {
      dataDir,
      externalTemporal: Boolean((values as Partial<Parsed>).TEMPORAL_ADDRESS),
    });
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  if (problems.length > 0 || !encryption) throw new ConfigError(problems);
  const v = values as Parsed;
  return {
    dataDir: path.resolve(v.MEMOIR_DATA_DIR),
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.MEMOIR_TASK_QUEUE,
      versioning: {
        mode: v.MEMOIR_WORKER_VERSIONING,
        deploymentName: v.MEMOIR_DEPLOYMENT_NAME ?? v.MEMOIR_TASK_QUEUE,
        buildId: v.MEMOIR_BUILD_ID,
      },
      workerIdentity: v.MEMOIR_WORKER_IDENTITY,
      cli: v.TEMPORAL_CLI,
      devServerPort: v.MEMOIR_TEMPORAL_PORT,
      devServerUiPort: v.MEMOIR_TEMPORAL_UI_PORT,
      uiUrl: v.TEMPORAL_UI_URL,
    },
    databaseUrl: v.DATABASE_URL,
    dbPoolSize: v.MEMOIR_DB_POOL,
    pgPreparedStatements: v.MEMOIR_PG_STATEMENTS === 'prepared',
    replyOnCommit: v.MEMOIR_REPLY_ON_COMMIT === 'on' && v.DATABASE_URL !== undefined,
    redisUrl: v.REDIS_URL,
    anthropic: { apiKey: v.ANTHROPIC_API_KEY, baseUrl: v.ANTHROPIC_BASE_URL, maxTokens: v.MEMOIR_MAX_TOKENS },
    policy: {
      models: v.MEMOIR_MODELS,
      attemptsPerModel: v.MEMOIR_MODEL_ATTEMPTS,
      modelCallTimeoutMs: v.MEMOIR_MODEL_TIMEOUT,
      turnDeadlineMs: v.MEMOIR_TURN_DEADLINE,
      degradedReply: v.MEMOIR_DEGRADED_REPLY,
      maxContentBytes: v.MEMOIR_MAX_CONTENT_BYTES,
      turnsPerRun: v.MEMOIR_TURNS_PER_RUN,
      idleTimeoutMs: v.MEMOIR_IDLE_TIMEOUT,
      compactAfterMessages: v.MEMOIR_COMPACT_AFTER_MESSAGES,
      compactAfterTokens: v.MEMOIR_COMPACT_AFTER_TOKENS,
      compactWhenIdleMs: v.MEMOIR_COMPACT_WHEN_IDLE,
      factsEveryTurns: v.MEMOIR_FACTS_EVERY,
      keepRecentMessages: v.MEMOIR_RECENT_MESSAGES,
      maxToolSteps: v.MEMOIR_MAX_TOOL_STEPS,
      toolApprovalTimeoutMs: v.MEMOIR_TOOL_APPROVAL_TIMEOUT,
      // Absent by default, so policies (and the runs they start) stay as they were.
      ...(v.MEMOIR_MODEL_CALL === 'local' ? { modelCall: 'local' as const } : {}),
    },
    defaultSystemPrompt: v.MEMOIR_SYSTEM_PROMPT,
    recentMessages: v.MEMOIR_RECENT_MESSAGES,
    api: {
      host: v.MEMOIR_API_HOST,
      port: v.MEMOIR_API_PORT,
      keys: v.MEMOIR_API_KEYS,
      waitMs: v.MEMOIR_API_WAIT,
      requestTimeoutMs: v.MEMOIR_REQUEST_TIMEOUT,
      ratePerMinute: v.MEMOIR_RATE_LIMIT,
      burst: v.MEMOIR_RATE_BURST,
    },
    pricingFile: v.MEMOIR_PRICING_FILE,
    tools: { module: v.MEMOIR_TOOLS_MODULE },
    cache: { systemTtl: v.MEMOIR_CACHE_TTL, minimums: v.MEMOIR_CACHE_MINIMUMS },
    retry: { maxDelayMs: v.MEMOIR_RETRY_MAX_DELAY, baseDelayMs: v.MEMOIR_RETRY_BASE_DELAY },
    dailyBudgets: v.MEMOIR_DAILY_BUDGET_USD,
    metrics: { port: v.MEMOIR_METRICS_PORT, temporalPort: v.MEMOIR_TEMPORAL_METRICS_PORT },
    memory: {
      budgetTokens: v.MEMOIR_CONTEXT_BUDGET,
      recallTopK: v.MEMOIR_RECALL_TOP_K,
      recallShare: v.MEMOIR_RECALL_SHARE,
      archiveShare: v.MEMOIR_ARCHIVE_SHARE,
      recallGate: v.MEMOIR_RECALL_GATE,
      tierTimeoutMs: v.MEMOIR_TIER_TIMEOUT,
      hotTtlMs: v.MEMOIR_HOT_TTL,
      summaryModel: v.MEMOIR_SUMMARY_MODEL,
      semanticStore: v.MEMOIR_SEMANTIC_STORE,
      weaviate: {
        url: v.WEAVIATE_URL,
        grpcPort: v.WEAVIATE_GRPC_PORT,
        apiKey: v.WEAVIATE_API_KEY,
        collection: v.MEMOIR_WEAVIATE_COLLECTION,
      },
      embedder: {
        kind: v.MEMOIR_EMBEDDER,
        modelDir: path.resolve(v.MEMOIR_EMBEDDER_MODEL_DIR),
        voyageApiKey: v.VOYAGE_API_KEY,
        model: v.MEMOIR_EMBEDDING_MODEL,
        dimensions: v.MEMOIR_EMBEDDING_DIMENSIONS,
        url: v.MEMOIR_EMBEDDINGS_URL,
        apiKey: v.MEMOIR_EMBEDDINGS_API_KEY,
      },
    },
    logLevel: v.MEMOIR_LOG_LEVEL,
    redaction: { policy: v.MEMOIR_REDACT, key: v.MEMOIR_REDACT_KEY },
    tracing: v.MEMOIR_TRACING,
    serviceName: v.OTEL_SERVICE_NAME,
    otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    encryption,
    mcpServers: v.MEMOIR_MCP_SERVERS ?? [],
  };
}
