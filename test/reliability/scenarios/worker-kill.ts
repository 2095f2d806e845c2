/**
 * Worker killed: the worker runs as a child process (`memoir worker`) and is SIGKILLed at chosen moments while
 * conversations run — with a reply call open at the model, just after a reply came back (the persist window), or
 * with a compaction's summary call open — and a new one is started each time, as an orchestrator would.
 */
import { sleep, TurnLog, runLanes, waitUntil } from '../driver';
import { judge } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack } from '../setup';
import { startTrackedModel, type TrackedModel } from '../tracked-model';
import { Checks, type Size, type Verdict } from '../verdict';

const SIZES = {
  full: { conversations: 10, turns: 10, kills: 10, budgetMs: 15 * 60_000 },
  fast: { conversations: 5, turns: 6, kills: 3, budgetMs: 150_000 },
};

type KillPoint = 'mid-model-call' | 'mid-persist' | 'mid-compaction' | 'compaction-commit';
/**
 * Where kills land, in turn; the full run adds `compaction-commit`: just after a summary call returned, while its
 * activity stores the summary and reports back. The last kill of each size is `mid-persist`, a moment that comes
 * with every turn, so it still lands before the last turns are answered.
 */
const POINTS: Record<Size, KillPoint[]> = {
  fast: ['mid-model-call', 'mid-compaction', 'mid-persist'],
  full: ['mid-model-call', 'mid-persist', 'mid-compaction', 'compaction-commit'],
};

/** Waits (bounded) for the moment a kill point names; returns what was actually going on when it came. */
async function reach(point: KillPoint, model: TrackedModel): Promise<string> {
  const lastReply = model.lastDoneAt('reply');
  const lastSummary = model.lastDoneAt('summary');
  const moment: Record<KillPoint, () => boolean> = {
    'mid-model-call': () => model.inFlight('reply') > 0,
    'mid-persist': () => model.lastDoneAt('reply') > lastReply,
    'mid-compaction': () => model.inFlight('summary') > 0,
    'compaction-commit': () => model.lastDoneAt('summary') > lastSummary,
  };
  const seen = await waitUntil(moment[point], 20_000);
  if (!seen) return 'random (the moment did not come within 20 s)';
  if (point === 'mid-model-call') await sleep(Math.random() * 150);
  // persistTurn follows the reply within milliseconds: its activity task, then one transaction.
  if (point === 'mid-persist') await sleep(5 + Math.random() * 40);
  // The summary is stored in one short transaction right after the call, then the activity reports back.
  if (point === 'compaction-commit') await sleep(Math.random() * 30);
  return point;
}

export async function workerKill(size: Size): Promise<Verdict> {
  const startedAt = Date.now();
  const p = SIZES[size];
  const model = await startTrackedModel();
  // 300 or 800 ms per call: long enough that a kill lands mid-call, short enough to keep the run brisk.
  model.script([{ action: { kind: 'delay', ms: 500 }, probability: 0.5 }], 300);
  const env = {
    ANTHROPIC_BASE_URL: model.url,
    // Compaction every few turns, so kills meet it.
    MEMOIR_COMPACT_AFTER_MESSAGES: '4',
    MEMOIR_RECENT_MESSAGES: '4',
    MEMOIR_FACTS_EVERY: '3',
    // A call cut off by a kill is retried after this, instead of the 20 s heartbeat timeout.
    MEMOIR_MODEL_TIMEOUT: '5s',
  };
  const s = await scenarioStack({ name: 'worker-kill', env, worker: 'child' });
  const worker = s.worker!;
  const log = new TurnLog();
  const kills: string[] = [];
  try {
    const conversations = conversationIds('wk', p.conversations);
    const total = p.conversations * p.turns;
    const deadline = Date.now() + p.budgetMs;
    // Spread the kills over the run: kill k once k/(kills+1) of the turns are answered. A recovered worker
    // answers the turns that waited for it in a burst, so the clients are held back (one more round at most)
    // while the next kill is due: every kill lands while turns are still running.
    const target = (k: number) => Math.floor((total * (k + 1)) / (p.kills + 1));
    const killsDue = () => kills.length < p.kills && log.answered >= target(kills.length) + p.conversations;
    let lanesDone = false;
    const lanes = runLanes(s.sender, log, conversations, {
      turnsPerConversation: p.turns,
      thinkMs: 200,
      deadline,
      beforeTurn: () => waitUntil(() => !killsDue() || lanesDone, 90_000),
    });
    void lanes.finally(() => (lanesDone = true));

    for (let k = 0; k < p.kills && !lanesDone; k++) {
      await waitUntil(() => lanesDone || log.answered >= target(k), 120_000);
      if (lanesDone) break;
      const points = POINTS[size];
      const point = await reach(points[k % points.length]!, model);
      if (lanesDone) break;
      const at = `${point} (reply calls open ${model.inFlight('reply')}, summary ${model.inFlight('summary')})`;
      const killed = await worker.kill();
      kills.push(killed ? at : `${at}: no worker was running`);
      await worker.start();
    }
    await lanes;
    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns);
    const calls = await s.stack.serving.services.db.query<{ purpose: string; n: number; failed: number }>(
      `SELECT purpose, count(*)::int AS n, count(*) FILTER (WHERE outcome <> 'ok')::int AS failed
         FROM llm_calls WHERE tenant_id = $1 GROUP BY purpose ORDER BY purpose`,
      [s.tenantId],
    );
    const checks = new Checks();
    checks.check(kills.length === p.kills, `only ${kills.length} of ${p.kills} kills happened before the turns ended`);
    checks.check(worker.kills === kills.length, `${kills.length - worker.kills} kills found no worker running`);
    // At full size every kind of moment must have been hit; the fast subset reports where its kills landed.
    const missed = POINTS[size].filter((pt) => !kills.some((k) => k.startsWith(pt)));
    if (size === 'full') checks.check(missed.length === 0, `no kill landed ${missed.join(', ')}`);
    const byPoint = POINTS[size].map((pt) => `${kills.filter((k) => k.startsWith(pt)).length} ${pt}`).join(', ');
    return judge({
      scenario: 'worker killed',
      size,
      load: `${p.conversations} conversations × ${p.turns} turns (${total}), model 300–800 ms, compaction every ~2 turns`,
      faults: `${kills.length} × SIGKILL of the worker process, a new one started each time (${byPoint})`,
      parameters: { ...env, ANTHROPIC_BASE_URL: 'offline model', conversations: p.conversations, turns: p.turns },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      notes: kills.map((k, i) => `kill ${i + 1}: ${k}`),
      metrics: {
        'worker incarnations': worker.starts,
        'model calls (failed) by purpose': calls.map((c) => `${c.purpose} ${c.n} (${c.failed})`).join(', '),
      },
    });
  } finally {
    await s.stop();
    await model.close();
  }
}
