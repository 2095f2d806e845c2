/**
 * The LangGraph JS peer: the conversation loop most LangGraph users write — a StateGraph over the messages
 * channel with one node that calls the model through `@langchain/anthropic`, checkpointed after every step by
 * `PostgresSaver` (one thread per conversation). It talks to the same offline model over HTTP as Memoir does.
 *
 * Its packages live in this folder's own node_modules (`npm ci` here), never in Memoir's dependencies: they are
 * loaded with a require anchored to this folder, and the few shapes used are declared below, so the root project
 * type-checks without them.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const PEER_DIR = __dirname;

/** Undefined when the peer's packages are installed; otherwise what to run. */
export function peerMissing(): string | undefined {
  const marker = path.join(PEER_DIR, 'node_modules', '@langchain', 'langgraph', 'package.json');
  return fs.existsSync(marker)
    ? undefined
    : `the LangGraph peer is not installed: run \`npm ci --prefix ${path.relative(process.cwd(), PEER_DIR) || '.'}\``;
}

/** Versions actually loaded, for the record. */
export function peerVersions(): Record<string, string> {
  const req = createRequire(path.join(PEER_DIR, 'package.json'));
  const names = [
    '@langchain/langgraph',
    '@langchain/langgraph-checkpoint-postgres',
    '@langchain/anthropic',
    '@langchain/core',
  ];
  return Object.fromEntries(
    names.map((n) => [
      n,
      (JSON.parse(fs.readFileSync(req.resolve(`${n}/package.json`), 'utf8')) as { version: string }).version,
    ]),
  );
}

interface LcMessage {
  content: unknown;
  usage_metadata?: { input_tokens?: number; output_tokens?: number };
  response_metadata?: { usage?: Record<string, number | undefined> };
}
interface CompiledGraph {
  invoke(
    input: { messages: unknown[] },
    config: { configurable: { thread_id: string } },
  ): Promise<{ messages: LcMessage[] }>;
}
interface GraphBuilder {
  addNode(name: string, fn: (state: { messages: LcMessage[] }) => Promise<{ messages: LcMessage[] }>): GraphBuilder;
  addEdge(from: string, to: string): GraphBuilder;
  compile(opts: { checkpointer: unknown }): CompiledGraph;
}
interface LangGraphModule {
  StateGraph: new (annotation: unknown) => GraphBuilder;
  MessagesAnnotation: unknown;
  START: string;
  END: string;
}
interface Saver {
  setup(): Promise<void>;
  end(): Promise<void>;
  pool?: { on(event: 'error', listener: (err: Error) => void): void };
}

export interface PeerOptions {
  modelUrl: string;
  model: string;
  databaseUrl: string;
  system: string;
  maxTokens: number;
}

export interface PeerTurn {
  reply: string;
  /** Prompt tokens billed (input + cache writes + cache reads), and the split. */
  usage: { input: number; output: number; cacheRead: number; cacheWrite: number };
}

export interface PeerAgent {
  turn(threadId: string, text: string): Promise<PeerTurn>;
  close(): Promise<void>;
}

export async function createPeerAgent(opts: PeerOptions): Promise<PeerAgent> {
  const req = createRequire(path.join(PEER_DIR, 'package.json'));
  const lg = req('@langchain/langgraph') as LangGraphModule;
  const { PostgresSaver } = req('@langchain/langgraph-checkpoint-postgres') as {
    PostgresSaver: { fromConnString(url: string): Saver };
  };
  const { ChatAnthropic } = req('@langchain/anthropic') as {
    ChatAnthropic: new (fields: Record<string, unknown>) => { invoke(messages: unknown[]): Promise<LcMessage> };
  };
  const { HumanMessage, SystemMessage } = req('@langchain/core/messages') as {
    HumanMessage: new (text: string) => unknown;
    SystemMessage: new (text: string) => unknown;
  };

  const llm = new ChatAnthropic({
    model: opts.model,
    apiKey: 'bench',
    anthropicApiUrl: opts.modelUrl,
    maxTokens: opts.maxTokens,
    maxRetries: 0,
  });
  const checkpointer = PostgresSaver.fromConnString(opts.databaseUrl);
  // An idle connection cut when the benchmark drops the database must not take the runner down.
  checkpointer.pool?.on('error', () => undefined);
  await checkpointer.setup();
  const system = new SystemMessage(opts.system);
  const graph = new lg.StateGraph(lg.MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await llm.invoke([system, ...state.messages])] }))
    .addEdge(lg.START, 'agent')
    .addEdge('agent', lg.END)
    .compile({ checkpointer });

  return {
    async turn(threadId, text) {
      const out = await graph.invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: threadId } });
      const last = out.messages.at(-1)!;
      const u = last.response_metadata?.usage ?? {};
      return {
        reply: typeof last.content === 'string' ? last.content : JSON.stringify(last.content),
        usage: {
          input: u.input_tokens ?? last.usage_metadata?.input_tokens ?? 0,
          output: u.output_tokens ?? last.usage_metadata?.output_tokens ?? 0,
          cacheRead: u.cache_read_input_tokens ?? 0,
          cacheWrite: u.cache_creation_input_tokens ?? 0,
        },
      };
    },
    close: () => checkpointer.end(),
  };
}
