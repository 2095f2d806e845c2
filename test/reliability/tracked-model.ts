/**
 * The offline model with a view of what is in flight: how many reply, summary and fact-extraction calls are open
 * right now, and when the last reply went out. A scenario uses it to time a kill: mid-model-call, just after a
 * reply (the persist window), or mid-compaction.
 */
import { EXTRACT_FACTS_TASK, SUMMARIZE_TASK } from '../../src/memory/prompts';
import { createOfflineModel } from '../../src/offline-model/server';
import type { Rule } from '../../src/offline-model/script';

export type CallKind = 'reply' | 'summary' | 'facts';

export interface TrackedModel {
  url: string;
  inFlight(kind: CallKind): number;
  /** When the last call of this kind finished (ms since epoch; 0 before the first). */
  lastDoneAt(kind: CallKind): number;
  /** Calls started so far, by kind. */
  started(kind: CallKind): number;
  script(rules: Rule[], latencyMs?: number): void;
  close(): Promise<void>;
}

function kindOf(body: unknown): CallKind {
  const system = (body as { system?: unknown } | undefined)?.system;
  const text = typeof system === 'string' ? system : JSON.stringify(system ?? '');
  if (text.includes(SUMMARIZE_TASK)) return 'summary';
  if (text.includes(EXTRACT_FACTS_TASK)) return 'facts';
  return 'reply';
}

export async function startTrackedModel(): Promise<TrackedModel> {
  const app = createOfflineModel();
  const open: Record<CallKind, number> = { reply: 0, summary: 0, facts: 0 };
  const done: Record<CallKind, number> = { reply: 0, summary: 0, facts: 0 };
  const count: Record<CallKind, number> = { reply: 0, summary: 0, facts: 0 };
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || req.url !== '/v1/messages') return;
    const kind = kindOf(req.body);
    open[kind]++;
    count[kind]++;
    // 'close' fires once whether the response was sent, streamed (hijacked) or cut off by a dead client.
    reply.raw.once('close', () => {
      open[kind]--;
      done[kind] = Date.now();
    });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    inFlight: (kind) => open[kind],
    lastDoneAt: (kind) => done[kind],
    started: (kind) => count[kind],
    script(rules, latencyMs) {
      app.script.reset();
      app.script.add(rules);
      if (latencyMs !== undefined) app.script.latencyMs = latencyMs;
    },
    close: () => app.close(),
  };
}
