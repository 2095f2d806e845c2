/**
 * The `memoir` verbs (commander). `main.ts` runs them.
 */
import path from 'node:path';
import { Command } from 'commander';
import { loadConfig, type Config } from '../config';
import type { Logger } from '../log';
import { loggerFor } from '../runtime/privacy';
import { adminVerbs } from './admin';
import { ApiClient, ApiError } from './api-client';
import { checkSentAt } from '../../workflows/validate';
import { formatTurn, runInteractive } from './chat';
import { CliError } from './errors';
import { demo } from './demo';
import { runCost, runHistoryExport, runLs, runReplay, runRerun, runShow } from './inspect';
import { describeServing, serve, untilSignalled } from './serve';

interface Context {
  config: Config;
  log: Logger;
}

/** Config and logger for a verb; interactive verbs log to a file so the terminal stays readable. */
function context(logToFile: boolean): Context {
  const config = loadConfig();
  return { config, log: loggerFor(config, logToFile ? path.join(config.dataDir, 'logs', 'memoir.log') : undefined) };
}

async function serveUntilSignalled(parts: { worker: boolean; api: boolean }, keep = false): Promise<void> {
  const { config, log } = context(false);
  const serving = await serve(config, log, { ...parts, keepTemporal: keep });
  process.stderr.write(`memoir is running:\n${describeServing(serving)}\n`);
  const signal = await untilSignalled();
  log.info({ signal }, 'shutting down');
  await serving.stop();
}

export function program(): Command {
  const cli = new Command('memoir').description('A durable agent runtime: every conversation is a Temporal workflow.');
  cli
    .command('serve')
    .description('run the worker and the HTTP API in one process')
    .option('--keep', 'leave the embedded Temporal dev server running on exit')
    .action((o: { keep?: boolean }) => serveUntilSignalled({ worker: true, api: true }, o.keep));
  cli
    .command('worker')
    .description('run a worker only')
    .action(() => serveUntilSignalled({ worker: true, api: false }));
  cli
    .command('api')
    .description('run the HTTP API only')
    .action(() => serveUntilSignalled({ worker: false, api: true }));
  cli
    .command('demo')
    .description('start everything embedded and hold a conversation (scripted unless stdin is a terminal)')
    .option('--keep', 'keep serving after the conversation')
    .action(async (o: { keep?: boolean }) => {
      const { config, log } = context(true);
      await demo(config, log, { keep: !!o.keep, interactive: process.stdin.isTTY === true });
    });
  cli
    .command('chat')
    .description('chat with a conversation through a running API (MEMOIR_API_URL, MEMOIR_API_KEY)')
    .argument('<conversationId>')
    .option('--user <userId>', 'owner when the conversation is new', 'cli')
    .option('--tool <name>', 'a tool the conversation may call, when it is new (repeatable)', collect, [])
    .action(async (conversationId: string, o: { user: string; tool: string[] }) => {
      const { config } = context(true);
      const api = ApiClient.fromEnv(config.dataDir, config.api.port);
      await createForChat(api, { conversationId, userId: o.user, tools: o.tool });
      await runInteractive({ api, conversationId });
    });
  cli
    .command('send')
    .description('send one message through a running API and print the reply (MEMOIR_API_URL, MEMOIR_API_KEY)')
    .argument('<conversationId>')
    .argument('<text>')
    .option('--user <userId>', 'owner when the conversation is new', 'cli')
    .option('--message-id <messageId>', 'idempotency key (resending it returns the stored reply)')
    .option('--sent-at <timestamp>', 'when it was said, ISO 8601 with a time zone (e.g. 2023-05-08T13:56:00Z)')
    .action(async (conversationId: string, text: string, o: { user: string; messageId?: string; sentAt?: string }) => {
      const problem = o.sentAt === undefined ? undefined : checkSentAt(o.sentAt, Date.now());
      if (problem) throw new CliError(`--sent-at: ${problem}`);
      const { config } = context(true);
      const api = ApiClient.fromEnv(config.dataDir, config.api.port);
      await api.createConversation({ conversationId, userId: o.user }).catch(() => undefined);
      process.stdout.write(formatTurn(await api.send(conversationId, text, o.messageId, o.sentAt)));
    });
  inspectionVerbs(cli);
  adminVerbs(cli, () => context(true));
  return cli;
}

const TENANT = ['--tenant <tenantId>', 'tenant of the conversation', 'demo'] as const;

/** Commander's way to repeat an option: each use adds to the list. */
const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * `chat` creates the conversation when it is new; an existing one is continued (its tools were fixed when it was
 * created). Without `--tool`, any refusal is left for the first message to report, as before; with it, a refusal
 * (an unknown tool, a bad name) is the user's to see.
 */
async function createForChat(api: ApiClient, body: { conversationId: string; userId: string; tools: string[] }) {
  const { tools, ...rest } = body;
  try {
    await api.createConversation(tools.length > 0 ? { ...rest, tools } : rest);
  } catch (err) {
    if (tools.length === 0) return;
    if (err instanceof ApiError && err.code === 'conversation_exists') {
      process.stderr.write(`conversation ${body.conversationId} exists: its tools stay as created (--tool ignored)\n`);
      return;
    }
    throw err;
  }
}

/** Verbs that read what conversations did; they open only what they need and never start a service. */
function inspectionVerbs(cli: Command): void {
  cli
    .command('ls')
    .description("list a tenant's conversations (Temporal visibility), newest first")
    .option(...TENANT)
    .option('--user <userId>', "only this user's conversations")
    .option('--status <status>', 'only conversations in this status: active, idle or ended')
    .option('--min-cost <usd>', 'only conversations that cost at least this much')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action((o: Record<string, unknown>) => runLs(context(true), o));
  cli
    .command('show')
    .description("a conversation's state (from its workflow) and messages (from PostgreSQL)")
    .argument('<conversationId>')
    .option(...TENANT)
    .option('--limit <n>', 'the newest this many messages', '50')
    .option('--json', 'print JSON')
    .action((conversationId: string, o: Record<string, unknown>) => runShow(context(true), conversationId, o));
  cli
    .command('history')
    .description('workflow histories of conversations')
    .command('export')
    .description("print a run's workflow history as JSON (what `temporal workflow show -o json` prints)")
    .argument('<conversationId>', 'a conversation id, or a workflow id conversation/<tenant>/<id>')
    .option(...TENANT)
    .option('--run <runId>', 'this run rather than the latest')
    .action((conversationId: string, o: { tenant: string; run?: string }) =>
      runHistoryExport(context(true), conversationId, o),
    );
  cli
    .command('replay')
    .description(
      'replay a history against the current workflow code; exit 3 if it is no longer deterministic, 1 on error',
    )
    .argument('[workflowId]', 'a workflow id conversation/<tenant>/<id>, or a conversation id with --tenant')
    .option('--run <runId>', 'this run rather than the latest')
    .option('--file <history.json>', 'replay an exported history instead of fetching one')
    .option('--workflows <entry>', 'workflow code to replay against (default: workflows/index.ts)')
    .option(...TENANT)
    .action((workflowId: string | undefined, o: { tenant: string; run?: string; file?: string; workflows?: string }) =>
      runReplay(context(true), workflowId, o),
    );
  cli
    .command('rerun')
    .description("call a model again on a turn's recorded context and compare the replies; stores nothing")
    .argument('<conversationId>')
    .argument('<messageId>', 'the user message of the turn (or its reply)')
    .option(...TENANT)
    .option('--model <model>', 'the model to ask (default: the one that answered)')
    .option('--system-file <file>', 'a system prompt to use instead of the recorded one')
    .option('--json', 'print JSON')
    .action((conversationId: string, messageId: string, o: Record<string, unknown>) =>
      runRerun(context(true), conversationId, messageId, o),
    );
  cli
    .command('cost')
    .description('model cost by day, tenant, model and purpose, with the cache hit ratio and a total')
    .option('--tenant <tenantId>', 'only this tenant (default: all)')
    .option('--days <n>', 'the last this many days', '30')
    .option('--json', 'print JSON')
    .action((o: Record<string, unknown>) => runCost(context(true), o));
}
