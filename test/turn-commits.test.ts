/**
 * What a turn makes PostgreSQL flush to disk. On a server with fsync on, every commit that writes waits for a WAL
 * flush (several ms here) unless its transaction commits asynchronously; a turn's path should wait for as few as
 * exactly-once and the cost ledger need: the stored turn, which carries the ledger row of the call that answered. Counted on the real
 * stack by watching every statement the worker sends, attributed to the activity that sent it.
 */
import { Context } from '@temporalio/activity';
import pg from 'pg';
import { ManifestStore } from '../src/storage/manifests';
import type { Db } from '../src/storage/db';
import { migrate } from '../src/storage/migrate';
import { ENGINES } from './helpers/engines';
import { startStack, uniqueId, type Stack } from './helpers/stack';

const WRITES = /\b(INSERT|UPDATE|DELETE)\b/i;

/** Synchronous write commits by activity, counted while `tally` is set. */
let tally: Map<string, number> | undefined;
const activity = () => {
  try {
    return Context.current().info.activityType;
  } catch {
    return 'client';
  }
};
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply() below
const pgQuery = pg.Client.prototype.query as (this: pg.Client, ...a: unknown[]) => unknown;
const inTransaction = new WeakMap<object, { wrote: boolean }>();

describe('commits a turn waits for', () => {
  let stack: Stack;
  beforeAll(async () => {
    pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
      const sql = typeof a[0] === 'string' ? a[0] : ((a[0] as { text?: string })?.text ?? '');
      if (tally) {
        const head = sql.trim().slice(0, 8).toUpperCase();
        const tx = inTransaction.get(this);
        const count = () => tally!.set(activity(), (tally!.get(activity()) ?? 0) + 1);
        if (head.startsWith('BEGIN')) inTransaction.set(this, { wrote: false });
        else if (head.startsWith('COMMIT')) {
          inTransaction.delete(this);
          if (tx?.wrote) count();
        } else if (head.startsWith('ROLLBACK')) inTransaction.delete(this);
        // A statement that turns synchronous_commit off for its own transaction does not wait for the flush.
        else if (WRITES.test(sql) && !/synchronous_commit/.test(sql)) {
          if (tx) tx.wrote = true;
          else count();
        }
      }
      return pgQuery.apply(this, a);
    } as never;
    // Upkeep runs off the turn path; kept out of the count here.
    stack = await startStack({ env: { MEMOIR_FACTS_EVERY: '1000', MEMOIR_COMPACT_AFTER_MESSAGES: '1000' } });
  });
  afterAll(async () => {
    pg.Client.prototype.query = pgQuery as never;
    await stack?.stop();
  });

  it('waits for one flush per turn: the stored turn, with the ledger row of the model call that answered', async () => {
    const tenant = stack.tenants.acme.id;
    const { memoir } = stack.serving.services;
    const { conversationId } = await memoir.startConversation(tenant, {
      conversationId: uniqueId('fsync'),
      userId: 'bee',
    });
    await memoir.sendMessage(tenant, conversationId, { content: 'First: I keep bees in Ghent.' });
    const turns = 4;
    tally = new Map();
    for (let i = 0; i < turns; i++) {
      await memoir.sendMessage(tenant, conversationId, { content: `Turn ${i}: the bees swarmed near the canal.` });
    }
    const counted = tally;
    tally = undefined;
    // The manifest and the system prompt copy commit asynchronously: the persist flushes them with the turn.
    expect(counted.get('loadContext') ?? 0).toBe(0);
    // The model call stores the turn it answered (patch model-call-persists-turn), its ledger row in the same
    // statement: one flush for both.
    expect(counted.get('generateReply')).toBe(turns);
    expect(counted.get('persistTurn') ?? 0).toBe(0);
  });
});

describe.each(ENGINES)('asynchronous commit of derived records on %s', (_name, open) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ db, cleanup } = await open());
    await migrate(db);
    await db.query(`INSERT INTO conversations (tenant_id, conversation_id, user_id) VALUES ('t', 'c', 'u')`);
  });
  afterAll(() => cleanup());

  it('turns synchronous_commit off for the manifest’s own transaction only, and the rows are stored', async () => {
    const seen = await db.transaction(async (tx) => {
      const manifests = new ManifestStore({ ...db, query: (sql, params) => tx.query(sql, params) });
      const digest = await manifests.putSystemPrompt('t', 'c', 'u', 'Be brief.');
      const manifest = {
        version: 2 as const,
        messageId: 'm1',
        turn: 1,
        systemPromptSha: digest,
        summaryVersion: null,
        memoryParts: { summary: false, facts: false },
        historySeqs: [],
        olderSeqs: [],
        userContent: 'hello',
        recall: { messageSeqs: [], facts: [] },
        blocks: [],
        degradedTiers: [],
        budgetTokens: 100,
        usedTokens: 10,
        timings: {},
        createdAt: new Date().toISOString(),
      };
      await manifests.save('t', 'c', manifest, 'u');
      return (await tx.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))[0]!.synchronous_commit;
    });
    expect(seen).toBe('off');
    // Local to that transaction: the pooled session commits synchronously again.
    expect((await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))[0]!.synchronous_commit).toBe(
      'on',
    );
    const manifests = new ManifestStore(db);
    expect((await manifests.get('t', 'c', 'm1'))?.userContent).toBe('hello');
    const digest = (await manifests.get('t', 'c', 'm1'))!.systemPromptSha;
    expect(await manifests.systemPrompt('t', 'c', digest)).toBe('Be brief.');
  });
});
