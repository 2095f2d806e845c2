/**
 * A user's erasure records the owner's tombstone (`u/<userId>`) first, then reaches each of their conversations in
 * turn: its own tombstone, its workflow ended, its caches dropped, its rows deleted. A reply in flight that is stored
 * in between must not write its turn back to the hot tier (which that conversation's erasure may already have
 * dropped, or drop before the write lands): the stored turn's fence reads the owner's target as well.
 */
import pg from 'pg';
import { conversationWorkflowId } from '../workflows/contract';
import { lockWaiters } from './helpers/lock-waiters';
import { startStack, uniqueId, type Stack } from './helpers/stack';
import { historyAfterTurns } from './helpers/turn-history';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ api: false });
});
afterAll(() => stack?.stop());

const waitUntil = (check: () => Promise<boolean>, what: string) =>
  vi.waitFor(async () => expect(await check(), what).toBe(true), { timeout: 30_000, interval: 50 });

it('writes nothing of a conversation back when its owner is erased while its reply is in flight', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('owner-erased');
  const { memoir, eraser, memory, db, temporal } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'My boat is the Vela.', userId: 'ada' });

  // The next reply is held in the model while the erasure starts.
  const gate = uniqueId('gate');
  await stack.offline.script([{ action: { kind: 'hold', gate }, lastUserContains: 'held', times: 1 }]);
  const inFlight = memoir.sendMessage(tenantId, conversationId, { content: 'A held question.', messageId: 'held-1' });
  const handle = temporal.client.workflow.getHandle(conversationWorkflowId(tenantId, conversationId));
  await waitUntil(async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) > 0, 'model call runs');

  // The erasure is held between the owner's tombstone and the conversation's: this transaction's uncommitted
  // tombstone row for the conversation makes the eraser's insert of it wait.
  const holder = new pg.Client({ connectionString: stack.databaseUrl! });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('INSERT INTO erasures (tenant_id, target) VALUES ($1, $2)', [tenantId, `c/${conversationId}`]);
    const erasure = eraser.eraseUser(tenantId, 'ada');
    await waitUntil(
      async () => (await lockWaiters(holder)).length === 1,
      'the erasure waits for the conversation tombstone',
    );

    await stack.offline.release(gate);
    const answered = await inFlight;
    expect(answered.messageId).toBe('held-1');
    // Stored (its conversation is erased next), but not written through to the hot tier. The answer can come before
    // the model call has ended (reply on commit): read once the workflow has its result.
    await historyAfterTurns(handle);
    const hot = await memory.hot.since(tenantId, conversationId, 0);
    expect(hot.map((m) => m.messageId)).not.toContain('held-1');

    await holder.query('ROLLBACK');
    expect((await erasure).conversations).toBe(1);
  } finally {
    await holder.end();
  }
  expect(await memory.hot.since(tenantId, conversationId, 0)).toEqual([]);
  expect(await memory.semantic!.store.indexedSourceIds(tenantId, conversationId)).toEqual(new Set());
  const left = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM conversations WHERE tenant_id = $1 AND conversation_id = $2)
          + (SELECT count(*) FROM messages WHERE tenant_id = $1 AND conversation_id = $2)
          + (SELECT count(*) FROM context_manifests WHERE tenant_id = $1 AND conversation_id = $2)
          + (SELECT count(*) FROM facts WHERE tenant_id = $1 AND conversation_id = $2) AS n`,
    [tenantId, conversationId],
  );
  expect(Number(left[0]!.n)).toBe(0);
});
