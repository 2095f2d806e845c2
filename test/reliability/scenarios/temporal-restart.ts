/**
 * Temporal restarted: a file-backed dev server of the scenario's own (the shared test server is left alone) is
 * stopped mid-run and started again on the same database file. Conversations resume where they were — the
 * worker and the clients reconnect by themselves — and no turn is lost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer, type DevServerOptions } from '../../../src/temporal/dev-server';
import { freePort } from '../../helpers/processes';
import { TurnLog, runLanes, sleep, waitUntil } from '../driver';
import { judge } from '../judge';
import { reconcile } from '../reconcile';
import { conversationIds, scenarioStack } from '../setup';
import { Checks, type Size, type Verdict } from '../verdict';

const SIZES = {
  full: { conversations: 10, turns: 10, restarts: 2, downMs: 15_000 },
  fast: { conversations: 4, turns: 6, restarts: 1, downMs: 5_000 },
};

export async function temporalRestart(size: Size): Promise<Verdict> {
  const startedAt = Date.now();
  const p = SIZES[size];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-temporal-'));
  const options: DevServerOptions = {
    dataDir,
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
  };
  let server: DevServer = await startDevServer(options);
  const s = await scenarioStack({
    name: 'temporal-restart',
    env: { TEMPORAL_ADDRESS: server.address },
    worker: 'in-process',
  }).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const log = new TurnLog();
  const outages: string[] = [];
  try {
    const conversations = conversationIds('tr', p.conversations);
    const total = p.conversations * p.turns;
    const lanes = runLanes(s.sender, log, conversations, {
      turnsPerConversation: p.turns,
      thinkMs: 300,
      deadline: Date.now() + 10 * 60_000,
    });
    for (let r = 1; r <= p.restarts; r++) {
      // Restarts at even intervals of progress, while turns are in flight.
      await waitUntil(() => log.answered >= Math.floor((total * r) / (p.restarts + 1)), 180_000);
      const stoppedAt = Date.now();
      await server.stop();
      await sleep(p.downMs);
      server = await startDevServer(options);
      const back = Date.now();
      // How long until the next turn completes once the server is back: the time to resume.
      const answeredBefore = log.answered;
      await waitUntil(() => log.answered > answeredBefore || log.answered === total, 120_000);
      outages.push(
        `restart ${r}: down ${((back - stoppedAt) / 1000).toFixed(1)} s, next turn answered ` +
          `${((Date.now() - back) / 1000).toFixed(1)} s after it was back`,
      );
    }
    await lanes;
    const rec = await reconcile(s.stack.serving.services, s.tenantId, log.turns);
    const checks = new Checks();
    checks.check(outages.length === p.restarts, `only ${outages.length} of ${p.restarts} restarts happened`);
    checks.check(s.stack.serving.worker?.worker.getState() === 'RUNNING', 'the worker did not survive the restarts');
    return judge({
      scenario: 'Temporal restarted',
      size,
      load: `${p.conversations} conversations × ${p.turns} turns (${total}), 300 ms between turns`,
      faults: `${p.restarts} × the file-backed dev server stopped (SIGTERM) for ${p.downMs / 1000} s and started again on the same file`,
      parameters: { conversations: p.conversations, turns: p.turns, 'downtime ms': p.downMs },
      startedAt,
      log,
      rec,
      checks,
      serverErrors: s.serverErrors(),
      notes: outages,
      metrics: { 'worker state at the end': s.stack.serving.worker?.worker.getState() ?? 'none' },
    });
  } finally {
    await s.stop();
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
