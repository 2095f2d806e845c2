/**
 * The `memoir` verbs (commander). `main.ts` runs them.
 */
import path from 'node:path';
import { Command } from 'commander';
import { loadConfig, type Config } from '../config';
import { createLogger, type Logger } from '../log';
import { ApiClient } from './api-client';
import { runInteractive } from './chat';
import { demo } from './demo';
import { describeServing, serve, untilSignalled } from './serve';

interface Context {
  config: Config;
  log: Logger;
}

/** Config and logger for a verb; interactive verbs log to a file so the terminal stays readable. */
function context(logToFile: boolean): Context {
  const config = loadConfig();
  const log = createLogger({
    level: config.logLevel,
    ...(logToFile ? { file: path.join(config.dataDir, 'logs', 'memoir.log') } : {}),
  });
  return { config, log };
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
    .action(async (conversationId: string, o: { user: string }) => {
      const { config } = context(true);
      const api = ApiClient.fromEnv(config.dataDir, config.api.port);
      await api.createConversation({ conversationId, userId: o.user }).catch(() => undefined);
      await runInteractive({ api, conversationId });
    });
  return cli;
}
