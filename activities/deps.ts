/**
 * What activities need, as narrow interfaces built once by the worker. Tests build them over real services
 * (PostgreSQL or PGlite, the offline model over HTTP) and pass them in.
 */
import type { ConversationPolicy } from '../workflows/contract';
import type { ContextAssembler } from '../src/context/assembler';
import type { ModelClient } from '../src/model/client';
import type { RetryTiming } from '../src/model/errors';
import type { RequestSettings } from '../src/model/turn-request';
import type { TokenCalibration } from '../src/model/tokens';
import type { ConversationStore } from '../src/storage/conversations';
import type { LlmCallStore } from '../src/storage/llm-calls';
import type { ManifestStore } from '../src/storage/manifests';
import type { Metrics } from '../src/metrics';
import type { Logger } from '../src/log';
import type { FactStore } from '../src/memory/facts';
import type { HotTier } from '../src/memory/hot-tier';
import type { SemanticTier } from '../src/memory/semantic-tier';
import type { CachedArchive, SummaryStore } from '../src/memory/summaries';
import type { TwoLevelCache } from '../src/memory/two-level-cache';
import type { TextPolicy } from '../src/privacy/text-policy';
import type { StreamBus, TurnChannel } from '../src/streaming/bus';
import type { UserSearchKey } from '../src/security/user-search-key';
import type { ToolCallStore } from '../src/storage/tool-calls';
import type { ToolRegistry } from '../src/tools/registry';

export interface ModelSettings extends RequestSettings {
  retry: RetryTiming;
}

export interface ActivityDeps {
  conversations: ConversationStore;
  manifests: ManifestStore;
  llmCalls: LlmCallStore;
  assembler: ContextAssembler;
  model: ModelClient;
  modelSettings: ModelSettings;
  calibration: TokenCalibration;
  /** The worker's current policy, handed to each new run at continue-as-new. */
  policy: () => ConversationPolicy;
  /** A tenant's daily spend limit in USD, if it has one. */
  dailyBudgetUsd: (tenantId: string) => number | undefined;
  metrics: Metrics;
  log: Logger;
  summaries: SummaryStore;
  facts: FactStore;
  hot: HotTier;
  /** Undefined when the semantic tier is off (a PostgreSQL server without Weaviate). */
  semantic: SemanticTier | undefined;
  /** Invalidated when compaction writes a new summary version. */
  summaryCache: TwoLevelCache<CachedArchive>;
  memorySettings: {
    summaryModel: string;
    summaryMaxTokens: number;
    indexBatch: number;
    /** A fold appends a summary segment until the segments would pass this; then they are consolidated into one. */
    summaryArchiveTokens: number;
  };
  /** Redaction by policy at each stage text passes through. */
  privacy: TextPolicy;
  /** Where reply deltas are published for streaming clients; absent: no streaming. */
  streams: StreamBus | undefined;
  /** Tells waiting clients that a turn is stored (src/storage/turn-notices.ts); absent: they wait for the update. */
  announceTurnStored?: (turn: TurnChannel) => Promise<void>;
  /** The keyed hash the `UserId` search attribute holds; absent: the attribute is not set. */
  userSearchKey?: UserSearchKey;
  /** The worker's tools and the record of their calls; absent: conversations with tools cannot be served. */
  tools?: { registry: ToolRegistry; calls: ToolCallStore };
}
