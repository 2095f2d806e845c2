/**
 * The inspection verbs as the command line runs them: validate the options, open only what the verb needs, print
 * its output to stdout, close everything. The verbs themselves (ls.ts, show.ts, …) take what they need and return
 * text, so tests can call them directly.
 */
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { z } from 'zod';
import type { Config } from '../config';
import type { Logger } from '../log';
import { SummaryStore } from '../memory/summaries';
import { DEFAULT_CACHE_MINIMUMS } from '../model/cache-minimums';
import { clientDataConverter, hasMasterKeys } from '../runtime/encryption';
import { openModel } from '../runtime/model';
import { WORKFLOWS_PATH } from '../runtime/worker';
import { ConversationStore } from '../storage/conversations';
import type { Db } from '../storage/db';
import { LlmCallStore } from '../storage/llm-calls';
import { ManifestStore } from '../storage/manifests';
import { installTemporalRuntime } from '../temporal/runtime';
import { connectTemporal, memoirClient, openCliDatabase, type TemporalConnection } from './connect';
import { cost, costOptions } from './cost';
import { CliError } from './errors';
import { exportHistory, workflowIdOf } from './history';
import { ls, lsOptions } from './ls';
import { replay, replaySource } from './replay';
import { rerun, rerunOptions } from './rerun';
import { show, showOptions } from './show';
import { ToolCallStore } from '../storage/tool-calls';
import { memoryToolsProvider } from '../tools/memory-tools';
import { loadToolsModule, ToolRegistry } from '../tools/registry';

export interface VerbContext {
  config: Config;
  log: Logger;
  out?: NodeJS.WritableStream;
}

/** Options as commander parsed them, checked against the verb's schema; problems become one clear message. */
function parse<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new CliError(result.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
}

const print = (ctx: VerbContext, text: string) => (ctx.out ?? process.stdout).write(`${text}\n`);

async function withTemporal<T>(ctx: VerbContext, fn: (t: TemporalConnection) => Promise<T>): Promise<T> {
  const temporal = await connectTemporal(ctx.config);
  try {
    return await fn(temporal);
  } finally {
    await temporal.close();
  }
}

async function withDb<T>(ctx: VerbContext, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openCliDatabase(ctx.config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export async function runLs(ctx: VerbContext, raw: unknown): Promise<void> {
  const opts = parse(lsOptions, raw);
  // Visibility holds a keyed hash of each user id, never the id: the database names the owners.
  await withTemporal(ctx, (t) =>
    withDb(ctx, async (db) => print(ctx, await ls(memoirClient(ctx.config, t.client, db), opts))),
  );
}

export async function runShow(ctx: VerbContext, conversationId: string, raw: unknown): Promise<void> {
  const opts = parse(showOptions, raw);
  const { config } = ctx;
  await withTemporal(ctx, (t) =>
    withDb(ctx, async (db) => {
      // The workflow's state comes back encrypted when the server encrypts: decode it with the same keys.
      const dataConverter = clientDataConverter(config, db);
      const client = dataConverter
        ? new Client({ connection: t.connection, namespace: config.temporal.namespace, dataConverter })
        : t.client;
      const text = await show(
        {
          memoir: memoirClient(config, client, db),
          conversations: new ConversationStore(db),
          connection: t.connection,
          uiUrl: config.temporal.uiUrl ?? (config.temporal.address ? undefined : embeddedUi(config)),
          namespace: config.temporal.namespace,
        },
        conversationId,
        opts,
      );
      print(ctx, text);
    }),
  );
}

export async function runHistoryExport(
  ctx: VerbContext,
  conversationId: string,
  raw: { tenant: string; run?: string },
): Promise<void> {
  await withTemporal(ctx, async (t) =>
    print(ctx, await exportHistory(t.client, workflowIdOf(conversationId, raw.tenant), raw.run)),
  );
}

export async function runReplay(
  ctx: VerbContext,
  workflowId: string | undefined,
  raw: { tenant: string; run?: string; file?: string; workflows?: string },
): Promise<void> {
  if (!!workflowId === !!raw.file) throw new CliError('give a workflow id or --file <history.json>, not both');
  // The replay worker logs through the SDK runtime: into the log file, not over the report.
  installTemporalRuntime(ctx.log);
  const source = replaySource(raw.workflows, WORKFLOWS_PATH);
  // An encrypted history replays through the same codec as the worker's (its data keys are in the database).
  const run = (dataConverter?: DataConverter) =>
    raw.file
      ? replay({ file: raw.file }, source, dataConverter)
      : withTemporal(ctx, (t) =>
          replay(
            { client: t.client, workflowId: workflowIdOf(workflowId!, raw.tenant), runId: raw.run },
            source,
            dataConverter,
          ),
        );
  const { report, exitCode } = hasMasterKeys(ctx.config)
    ? await withDb(ctx, (db) => run(clientDataConverter(ctx.config, db)))
    : await run();
  print(ctx, report);
  if (exitCode !== 0) throw new CliError('', exitCode);
}

export async function runRerun(ctx: VerbContext, conversationId: string, messageId: string, raw: unknown) {
  const opts = parse(rerunOptions, raw);
  const { config } = ctx;
  await withDb(ctx, async (db) => {
    const model = await openModel(config);
    // Definitions only: rerun never runs a tool (MCP servers are not started for it).
    const registry = await ToolRegistry.create([
      ...(config.tools.module ? [await loadToolsModule(config.tools.module)] : []),
      memoryToolsProvider(),
    ]);
    try {
      const text = await rerun(
        {
          conversations: new ConversationStore(db),
          manifests: new ManifestStore(db),
          summaries: new SummaryStore(db),
          llmCalls: new LlmCallStore(db),
          model: model.client,
          settings: {
            maxTokens: config.anthropic.maxTokens,
            cacheMinimums: { ...DEFAULT_CACHE_MINIMUMS, ...config.cache.minimums },
            systemCacheTtl: config.cache.systemTtl,
          },
          defaultModel: config.policy.models[0]!,
          timeoutMs: config.policy.modelCallTimeoutMs,
          tools: {
            definitions: (names) => registry.definitions(names),
            recorded: (t, c, m) => new ToolCallStore(db).list(t, c, m),
            maxSteps: config.policy.maxToolSteps,
          },
        },
        conversationId,
        messageId,
        opts,
      );
      print(ctx, text);
    } finally {
      await model.close();
    }
  });
}

export async function runCost(ctx: VerbContext, raw: unknown): Promise<void> {
  const opts = parse(costOptions, raw);
  await withDb(ctx, async (db) => print(ctx, await cost(new LlmCallStore(db), opts)));
}

const embeddedUi = (config: Config) => `http://127.0.0.1:${config.temporal.devServerUiPort}`;
