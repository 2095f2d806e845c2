/**
 * Everything a Memoir process talks to, opened once from the configuration. Each external service has an
 * embedded default chosen when its setting is unset; `describe()` says which was chosen.
 */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { MemoirClient } from '../client/memoir-client';
import { ContextAssembler } from '../context/assembler';
import { assemblerSettings } from '../context/assembler-settings';
import type { Logger } from '../log';
import { estimateTokens, TokenCalibration } from '../model/tokens';
import { ConversationStore } from '../storage/conversations';
import { TurnNotices } from '../storage/turn-notices';
import type { Db } from '../storage/db';
import { LlmCallStore } from '../storage/llm-calls';
import { ManifestStore } from '../storage/manifests';
import { CalibrationStore } from '../storage/calibration';
import { Metrics } from '../metrics';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { FactStore } from '../memory/facts';
import { SummaryStore } from '../memory/summaries';
import { Eraser } from '../security/erasure';
import { ensurePrivateDir } from '../files';
import type { StreamBus } from '../streaming/bus';
import { MemoryStreamBus } from '../streaming/memory-bus';
import { RedisStreamBus } from '../streaming/redis-bus';
import type { TextPolicy } from '../privacy/text-policy';
import { textPolicy } from './privacy';
import { repliesOnCommit } from './stored-replies';
import { redactionKey } from '../privacy/text-policy';
import { userSearchKeyFrom, type UserSearchKey } from '../security/user-search-key';
import { tracing } from './tracing';
import { KeyConfigError } from '../codec';
import {
  messageSealer,
  PLAINTEXT_REFUSAL,
  setUpEncryption,
  startCodecServer,
  type EncryptionSetup,
} from './encryption';
import { openMemory, type MemoryTiers } from './memory';
import { openModel, type ModelEndpoint } from './model';
import { openDatabase } from './storage';
import { ToolCallStore } from '../storage/tool-calls';
import { toolCallReader } from '../storage/tool-calls';
import { McpToolProvider } from '../tools/mcp';
import { loadToolsModule, ToolRegistry } from '../tools/registry';
import { memoryToolsProvider } from '../tools/memory-tools';
import type { ToolProvider } from '../tools/types';

export interface Services {
  config: Config;
  log: Logger;
  db: Db;
  conversations: ConversationStore;
  manifests: ManifestStore;
  llmCalls: LlmCallStore;
  assembler: ContextAssembler;
  calibration: TokenCalibration;
  summaries: SummaryStore;
  facts: FactStore;
  memory: MemoryTiers;
  temporal: {
    connection: Connection;
    client: Client;
    address: string;
    uiUrl: string | undefined;
    devServer?: DevServer;
  };
  model: ModelEndpoint;
  memoir: MemoirClient;
  metrics: Metrics;
  encryption: EncryptionSetup;
  eraser: Eraser;
  privacy: TextPolicy;
  /** The keyed hash of user ids in the `UserId` search attribute. */
  userSearchKey: UserSearchKey;
  /** Reply deltas for streaming clients. */
  streams: StreamBus;
  /** Stored turns announced and heard (MEMOIR_REPLY_ON_COMMIT with PostgreSQL); absent: replies come by update. */
  turnNotices: TurnNotices | undefined;
  /** Every tool conversations may choose, and the record of their calls. */
  tools: { registry: ToolRegistry; calls: ToolCallStore };
  /** One line per service: what was chosen. */
  choices: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Progress for a person waiting (first starts build things and take a while). */
  progress?: (message: string) => void;
  /** Keep the embedded Temporal running after close (`--keep`). */
  keepTemporal?: boolean;
  /** Tool providers beside the tools module and the memory tools (MCP servers: src/tools/mcp.ts). */
  toolProviders?: ToolProvider[];
}

export async function openServices(config: Config, log: Logger, opts: OpenOptions = {}): Promise<Services> {
  const progress = opts.progress ?? ((m: string) => log.info(m));
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err) => log.warn({ err }, 'error while closing'));
  };
  // Before anything opens: a server that would write plaintext histories to an external Temporal says so at once.
  if (!config.encryption.masterKeys && config.encryption.payloadEncryption !== 'off')
    throw new KeyConfigError(PLAINTEXT_REFUSAL);
  try {
    const tightened = ensurePrivateDir(config.dataDir);
    if (tightened)
      log.warn(
        { dataDir: config.dataDir, from: tightened.tightenedFrom.toString(8), to: '700' },
        'the data directory was readable by other users; restricted it to its owner',
      );
    progress('Opening the database…');
    const { db, description: dbChoice } = await openDatabase(config, { share: true });
    closers.push(() => db.close());

    // Encryption finds a conversation's user through the store; the store then seals message text with it.
    const encryption = setUpEncryption(config, db, new ConversationStore(db));
    if (encryption.warning) log.warn(encryption.warning);
    const conversations = new ConversationStore(db, messageSealer(config, encryption.encryption));
    const temporal = await openTemporal(config, progress, encryption);
    closers.push(() => temporal.connection.close());
    if (temporal.devServer && !opts.keepTemporal) closers.push(() => temporal.devServer!.stop());

    const model = await openModel(config);
    closers.push(() => model.close());
    const codecServer = await startCodecServer(config, encryption, temporal.uiUrl, log);
    if (codecServer) closers.push(() => codecServer.close());

    const metrics = new Metrics();
    const privacy = textPolicy(config);
    const userSearchKey = userSearchKeyFrom(redactionKey(config.redaction.key, config.dataDir));
    const memory = await openMemory(config, db, metrics, log, (text) => privacy.at('index', text).text);
    closers.push(() => memory.close());

    const manifests = new ManifestStore(db, messageSealer(config, encryption.encryption));
    const summaries = new SummaryStore(db);
    const facts = new FactStore(db);
    const calibrationStore = new CalibrationStore(db);
    const calibration = new TokenCalibration(await calibrationStore.load(), 0.1, (model, ratio, samples) => {
      calibrationStore
        .save(model, ratio, samples)
        .catch((err: unknown) => log.warn({ err }, 'could not save token calibration'));
    });
    const primary = config.policy.models[0]!;
    const assembler = new ContextAssembler({
      conversations,
      manifests,
      summaries,
      facts,
      summaryCache: memory.summaryCache,
      hot: memory.hot,
      semantic: memory.semantic,
      // Ciphertext cannot be searched: with message text encrypted at rest, recall is semantic only.
      db: config.encryption.encryptAtRest ? undefined : db,
      tokens: (text) => calibration.apply(primary, estimateTokens(text)),
      metrics,
      settings: assemblerSettings(config),
    });
    // MCP servers are connected (stdio ones started) as the registry lists them: closed with it, or at once if the
    // listing fails and the process does not start.
    const mcp = config.mcpServers.length > 0 ? new McpToolProvider(config.mcpServers, log) : undefined;
    closers.push(async () => mcp?.close());
    const registry = await ToolRegistry.create([
      ...(config.tools.module ? [await loadToolsModule(config.tools.module)] : []),
      ...(mcp ? [mcp] : []),
      ...(opts.toolProviders ?? []),
      memoryToolsProvider({ assembler, conversations, facts }),
    ]);
    closers.push(() => registry.close());
    const tools = { registry, calls: new ToolCallStore(db, messageSealer(config, encryption.encryption)) };
    // Connects on first use: a worker only announces (over the pool), an API also listens.
    const turnNotices = repliesOnCommit(config) ? new TurnNotices(config.databaseUrl!, log) : undefined;
    closers.push(async () => turnNotices?.close());
    const memoir = new MemoirClient({
      client: temporal.client,
      taskQueue: config.temporal.taskQueue,
      policy: config.policy,
      conversations,
      manifests,
      assembler,
      storedForm: (text) => privacy.at('store', text).text,
      repliesStoredVerbatim: !privacy.applies('store'),
      ...(turnNotices ? { storedTurns: turnNotices } : {}),
      userSearchKey,
      toolNames: () => registry.names(),
      toolCalls: toolCallReader(tools.calls),
    });
    const streams: StreamBus = memory.redis ? new RedisStreamBus(memory.redis) : new MemoryStreamBus();
    return {
      tools,
      config,
      log,
      db,
      conversations,
      manifests,
      summaries,
      facts,
      memory,
      llmCalls: new LlmCallStore(db),
      assembler,
      calibration,
      temporal,
      model,
      memoir,
      metrics,
      encryption,
      privacy,
      userSearchKey,
      streams,
      turnNotices,
      eraser: new Eraser({
        db,
        temporal: temporal.client,
        hot: memory.hot,
        semantic: memory.semantic,
        summaryCache: memory.summaryCache,
        streams,
        encryption: encryption.encryption,
      }),
      choices: [
        `Database: ${dbChoice}`,
        `Temporal: ${temporal.devServer ? `embedded dev server at ${temporal.address} (data in ${config.dataDir})` : temporal.address}`,
        `Model: ${model.description}`,
        ...memory.choices,
        encryption.choice,
      ],
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function openTemporal(config: Config, progress: (m: string) => void, encryption: EncryptionSetup) {
  const t = config.temporal;
  let devServer: DevServer | undefined;
  let address = t.address;
  if (!address) {
    devServer = await startDevServer({
      cli: t.cli,
      dataDir: config.dataDir,
      port: t.devServerPort,
      uiPort: t.devServerUiPort,
      namespace: t.namespace,
      onProgress: progress,
      ...(encryption.codecEndpoint ? { codecEndpoint: encryption.codecEndpoint } : {}),
    });
    address = devServer.address;
  }
  const connection = await Connection.connect({ address });
  if (!devServer) await ensureSearchAttributes(connection, t.namespace);
  const traces = tracing(config);
  const client = new Client({
    connection,
    namespace: t.namespace,
    ...(encryption.dataConverter ? { dataConverter: encryption.dataConverter } : {}),
    ...(traces ? { plugins: [traces.plugin] } : {}),
  });
  return { connection, client, address, uiUrl: t.uiUrl ?? devServer?.uiUrl, ...(devServer ? { devServer } : {}) };
}
