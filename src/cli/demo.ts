/**
 * `memoir demo`: starts everything embedded, holds a conversation through the HTTP API (scripted when stdin is
 * not a terminal, interactive when it is), prints tokens and cost per turn, and stops what it started.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { Logger } from '../log';
import { apiKeys } from '../runtime/api';
import { ApiClient } from './api-client';
import { runInteractive, runScript } from './chat';
import { describeServing, serve, untilSignalled } from './serve';

export const DEMO_SCRIPT = [
  'Hi! My name is Ada. I am planning a sailing trip along the Dalmatian coast next June.',
  'My budget is 3000 euros for two weeks, for two people.',
  'What should I pack for a week on a boat?',
  'Can you suggest three islands worth visiting?',
  // Asked about the past, the model calls the conversation's `search_memory` tool before it answers.
  'I told you before: what was my budget?',
];

/** The demo conversation may search its own memory: a tool call runs as its own activity, visible in the UI. */
const DEMO_TOOLS = ['search_memory'];

export async function demo(config: Config, log: Logger, opts: { keep: boolean; interactive: boolean }): Promise<void> {
  const say = (m: string) => process.stdout.write(`${m}\n`);
  say('Memoir demo — starting the embedded stack (the first run builds things and takes longer)…');
  const serving = await serve(config, log, {
    worker: true,
    api: true,
    keepTemporal: opts.keep,
    progress: (m) => say(`  · ${m}`),
  });
  try {
    say(`\nReady:\n${describeServing(serving)}`);
    const api = new ApiClient(serving.api!.url, apiKeys(serving.services)[0]!.key);
    const conversationId = `demo-${randomUUID().slice(0, 8)}`;
    const created = await api.createConversation({ conversationId, userId: 'ada', tools: DEMO_TOOLS });
    say(`\nConversation ${conversationId}`);
    say(`  workflow ID: ${created.workflowId}`);
    if (serving.services.temporal.uiUrl) {
      const ns = encodeURIComponent(config.temporal.namespace);
      say(
        `  inspect it:  ${serving.services.temporal.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(created.workflowId)}`,
      );
    }
    if (opts.interactive) await runInteractive({ api, conversationId });
    else {
      const answered = await runScript({ api, conversationId }, DEMO_SCRIPT);
      const { toolCalls } = await api.toolCalls(conversationId);
      for (const c of toolCalls) say(`  tool call: ${c.tool} · ${c.outcome ?? 'pending'} · ${c.durationMs ?? 0} ms`);
      const state = await api.state(conversationId);
      say(
        `\n${answered} turns answered · total ${state.totals.inputTokens} in / ${state.totals.outputTokens} out tokens` +
          ` · cache hit ratio ${(state.totals.cacheHitRatio * 100).toFixed(1)}% · cost $${state.totals.costUsd.toFixed(6)}`,
      );
    }
    if (opts.keep) {
      say('\n--keep: still serving. Press Ctrl-C to stop the worker and API (the Temporal dev server keeps running).');
      await untilSignalled();
    }
  } finally {
    await serving.stop();
  }
}
