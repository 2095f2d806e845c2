/**
 * PostgreSQL down: a server of the scenario's own is crashed (`pg_ctl stop -m immediate`) while conversations
 * talk, and started again after 30 s. Turns wait (their database activities retry until it is back) and complete
 * afterwards; clients see a bounded wait (504 `reply_pending`, then re-send) or a clear retryable error, and
 * reconciliation finds every accepted turn stored exactly once.
 */
import { postgresProcess } from '../../helpers/postgres-process';
import { TurnLog, runLanes, sleep, waitUntil, type SendResult } from '../driver';
import { judge } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack } from '../setup';
import { Checks, type Size, type Verdict } from '../verdict';

const SIZES = {
  full: { conversations: 8, turns: 10, downMs: 30_000, apiWaitMs: 15_000, runMs: 10 * 60_000 },
  fast: { conversations: 4, turns: 5, downMs: 10_000, apiWaitMs: 8_000, runMs: 150_000 },
};

export async function postgresOutage(size: Size): Promise<Verdict> {
  const startedAt = Date.now();
  const p = SIZES[size];
  const pg = await postgresProcess();
  let longestRequestMs = 0;
  const duringOutage: string[] = [];
  let down = false;
  const onResult = (ms: number, r: SendResult) => {
    longestRequestMs = Math.max(longestRequestMs, ms);
    if (down && r.kind !== 'reply') duringOutage.push(r.code);
  };
  const s = await scenarioStack({
    name: 'postgres-down',
    env: { DATABASE_URL: pg.url },
    // The worker in its own process, as deployed and restarted by an orchestrator if it dies: the outage must be
    // survived, and a crash is counted against the verdict rather than taking the scenario down with it.
    worker: 'child',
    restartOnCrash: true,
    apiWaitMs: p.apiWaitMs,
    onResult,
  }).catch(async (err: unknown) => {
    await pg.destroy();
    throw err;
  });
  const log = new TurnLog();
  let outage = '';
  try {
    const conversations = conversationIds('pg', p.conversations);
    const total = p.conversations * p.turns;
    const lanes = runLanes(s.sender, log, conversations, {
      turnsPerConversation: p.turns,
      thinkMs: 200,
      deadline: Date.now() + p.runMs,
    });
    await waitUntil(() => log.answered >= Math.floor(total / 3), 120_000);
    const stoppedAt = Date.now();
    down = true;
    await pg.stop('immediate');
    await sleep(p.downMs);
    await pg.start();
    down = false;
    const back = Date.now();
    const answeredBefore = log.answered;
    await waitUntil(() => log.answered > answeredBefore || log.answered === total, 120_000);
    outage = `down ${((back - stoppedAt) / 1000).toFixed(1)} s; next turn answered ${((Date.now() - back) / 1000).toFixed(1)} s after it was back`;
    await lanes;
    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns);
    const checks = new Checks();
    checks.check(
      longestRequestMs <= p.apiWaitMs + 10_000,
      `a request took ${Math.round(longestRequestMs)} ms (API wait ${p.apiWaitMs} ms)`,
    );
    const worker = s.worker!;
    checks.check(
      worker.crashes === 0,
      `the worker process crashed ${worker.crashes} times and had to be restarted: ${(worker.crashReports[0] ?? '').slice(0, 400)}`,
    );
    checks.check(rec.degraded === 0, `${rec.degraded} turns got the degraded reply though the model was up throughout`);
    const codes = new Map<string, number>();
    for (const c of duringOutage) codes.set(c, (codes.get(c) ?? 0) + 1);
    return judge({
      scenario: 'PostgreSQL down',
      size,
      load: `${p.conversations} conversations × ${p.turns} turns (${total}), 200 ms between turns`,
      faults: `PostgreSQL crashed (immediate stop) for ${p.downMs / 1000} s, then started again`,
      parameters: { MEMOIR_API_WAIT: `${p.apiWaitMs}ms`, conversations: p.conversations, turns: p.turns },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      notes: [outage],
      metrics: {
        'longest single request ms': Math.round(longestRequestMs),
        'worker crashes (restarted each time)': s.worker!.crashes,
        'answers other than a reply while it was down': [...codes].map(([c, n]) => `${n} × ${c}`).join(', ') || 'none',
      },
    });
  } finally {
    await s.stop();
    await pg.destroy();
  }
}
