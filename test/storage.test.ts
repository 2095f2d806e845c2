/**
 * The storage layer on both engines it supports: a real PostgreSQL 15 server and PGlite in-process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConversationStore } from '../src/storage/conversations';
import { openPglite, openPostgres, type Db } from '../src/storage/db';
import { LlmCallStore } from '../src/storage/llm-calls';
import { ENGINES } from './helpers/engines';
import { postgresProcess } from './helpers/postgres-process';
import { migrate } from '../src/storage/migrate';
import { CalibrationStore } from '../src/storage/calibration';
import { TokenCalibration } from '../src/model/tokens';

const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 3, cacheWriteTokens: 2, costUsd: 0.000123456 };
const reply = (id: string) => ({
  messageId: `r-${id}`,
  content: `reply to ${id}`,
  model: 'claude-sonnet-5-5',
  degraded: false,
});

describe.each(ENGINES)('storage on %s', (_name, open) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let store: ConversationStore;

  beforeAll(async () => {
    const opened = await open();
    db = opened.db;
    cleanup = () => opened.cleanup();
    await migrate(db);
    store = new ConversationStore(db);
  });
  afterAll(() => cleanup());

  it('applies migrations once, even when run again concurrently', async () => {
    expect(await Promise.all([migrate(db), migrate(db)])).toEqual([[], []]);
    const versions = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((v) => v.version)).toContain('001_conversations');
  });

  it('creates a conversation once and opens it as stored', async () => {
    expect(await store.create('t1', 'c1', 'u1', 'be brief')).toBe(true);
    expect(await store.create('t1', 'c1', 'someone-else')).toBe(false);
    const row = await store.open('t1', 'c1', 'ignored');
    expect(row).toMatchObject({
      tenantId: 't1',
      conversationId: 'c1',
      userId: 'u1',
      systemPrompt: 'be brief',
      turnCount: 0,
    });
  });

  it('opens a conversation for a message in one statement: the row made once, the stored user text returned', async () => {
    expect(await store.openForMessage('t1', 'c-open', 'u1', 'm1')).toBeNull();
    expect(await store.openForMessage('t1', 'c-open', 'someone-else', 'm1')).toBeNull();
    expect(await store.get('t1', 'c-open')).toMatchObject({
      userId: 'u1',
      systemPrompt: null,
      tools: [],
      turnCount: 0,
    });
    await store.persistTurn({
      tenantId: 't1',
      conversationId: 'c-open',
      userMessage: { messageId: 'm1', content: 'hello' },
      reply: reply('m1'),
      usage,
    });
    expect(await store.openForMessage('t1', 'c-open', 'u1', 'm1')).toBe('hello');
    // The reply's id is not a user message's; another tenant's conversation of that name is another row.
    expect(await store.openForMessage('t1', 'c-open', 'u1', reply('m1').messageId)).toBeNull();
    expect(await store.openForMessage('t2', 'c-open', 'u9', 'm1')).toBeNull();
    expect((await store.get('t2', 'c-open'))?.userId).toBe('u9');
  });

  it('reads a conversation with the stored answer to a message in one statement, as get and findTurn read them', async () => {
    expect(await store.withAnswer('t1', 'c-answer', 'm1')).toEqual({ conversation: null, answered: null });
    await store.create('t1', 'c-answer', 'u1', 'be brief');
    expect(await store.withAnswer('t1', 'c-answer', 'm1')).toEqual({
      conversation: await store.get('t1', 'c-answer'),
      answered: null,
    });
    await store.persistTurn({
      tenantId: 't1',
      conversationId: 'c-answer',
      userMessage: { messageId: 'm1', content: 'hello' },
      reply: { ...reply('m1'), degraded: true },
      usage,
    });
    const both = await store.withAnswer('t1', 'c-answer', 'm1');
    expect(both.answered).toEqual(await store.findTurn('t1', 'c-answer', 'm1'));
    expect(both.answered).toMatchObject({ reply: { content: 'reply to m1', degraded: true }, usage });
    expect(both.conversation).toEqual(await store.get('t1', 'c-answer'));
    expect(both.conversation).toMatchObject({ systemPrompt: 'be brief', turnCount: 1 });
    expect((await store.withAnswer('t1', 'c-answer', 'm2')).answered).toBeNull();
  });

  it('persists a turn in one transaction with consecutive sequence numbers, exactly once', async () => {
    const turn = {
      tenantId: 't1',
      conversationId: 'c1',
      userMessage: { messageId: 'm1', content: 'hello' },
      reply: reply('m1'),
      usage,
    };
    expect(await store.persistTurn(turn)).toEqual({ userSeq: 1, replySeq: 2, inserted: true });
    expect(await store.persistTurn(turn)).toEqual({ userSeq: 1, replySeq: 2, inserted: false });
    const second = { ...turn, userMessage: { messageId: 'm2', content: 'again' }, reply: reply('m2') };
    expect(await store.persistTurn(second)).toEqual({ userSeq: 3, replySeq: 4, inserted: true });

    const row = await store.get('t1', 'c1');
    expect(row?.turnCount).toBe(2);
    expect(row?.totals.inputTokens).toBe(20);
    expect(row?.totals.costUsd).toBeCloseTo(0.000246912, 9);
    expect((await store.recent('t1', 'c1', 10)).map((m) => [m.seq, m.role, m.messageId])).toEqual([
      [1, 'user', 'm1'],
      [2, 'assistant', 'r-m1'],
      [3, 'user', 'm2'],
      [4, 'assistant', 'r-m2'],
    ]);
    expect(await store.findTurn('t1', 'c1', 'm2')).toEqual({ messageId: 'm2', reply: reply('m2'), usage });
    expect(await store.findTurn('t1', 'c1', 'never')).toBeNull();
  });

  it('persists a turn in one statement: one round trip on the turn path, none in a transaction', async () => {
    await store.create('t1', 'one-trip', 'u1');
    const sent: string[] = [];
    const counting: Db = {
      ...db,
      query: (sql, params) => (sent.push(sql), db.query(sql, params)),
      transaction: async (fn) => {
        sent.push('BEGIN');
        const out = await db.transaction((tx) =>
          fn({ ...tx, query: (sql, params) => (sent.push(sql), tx.query(sql, params)) }),
        );
        sent.push('COMMIT');
        return out;
      },
    };
    const turn = {
      tenantId: 't1',
      conversationId: 'one-trip',
      userMessage: { messageId: 'o1', content: 'hello' },
      reply: reply('o1'),
      usage,
    };
    expect(await new ConversationStore(counting).persistTurn(turn)).toEqual({
      userSeq: 1,
      replySeq: 2,
      inserted: true,
    });
    expect(sent).toHaveLength(1);
  });

  it('serialises concurrent writers on one conversation without gaps or duplicates', async () => {
    await store.create('t1', 'race', 'u1');
    const turns = Array.from({ length: 12 }, (_, i) => ({
      tenantId: 't1',
      conversationId: 'race',
      userMessage: { messageId: `x${i % 6}`, content: `msg ${i % 6}` },
      reply: reply(`x${i % 6}`),
      usage,
    }));
    const results = await Promise.all(turns.map((t) => store.persistTurn(t)));
    expect(results.filter((r) => r.inserted)).toHaveLength(6);
    const seqs = (await store.recent('t1', 'race', 100)).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('pages messages backwards by sequence number', async () => {
    expect((await store.page('t1', 'c1', 2)).map((m) => m.seq)).toEqual([3, 4]);
    expect((await store.page('t1', 'c1', 2, 3)).map((m) => m.seq)).toEqual([1, 2]);
    expect((await store.bySeq('t1', 'c1', [4, 1])).map((m) => m.seq)).toEqual([1, 4]);
  });

  it('refuses to write a turn into a conversation that does not exist', async () => {
    const turn = {
      tenantId: 't1',
      conversationId: 'ghost',
      userMessage: { messageId: 'g', content: 'boo' },
      reply: reply('g'),
      usage,
    };
    await expect(store.persistTurn(turn)).rejects.toThrow(/does not exist/);
  });

  it('records model calls idempotently and sums the accepted ones', async () => {
    const calls = new LlmCallStore(db);
    const call = {
      callId: 'run/1/1',
      tenantId: 't1',
      conversationId: 'c1',
      messageId: 'm1',
      turn: 1,
      purpose: 'reply' as const,
      model: 'claude-sonnet-5-5',
      attempt: 1,
      outcome: 'ok',
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 3,
      cacheWrite5mTokens: 2,
      cacheWrite1hTokens: 0,
      costUsd: 0.000123456,
      latencyMs: 12,
    };
    await calls.record(call);
    await calls.record(call);
    await calls.record({
      ...call,
      callId: 'run/1/0',
      outcome: 'ModelOverloaded',
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      costUsd: 0,
    });
    expect(await calls.forMessage('t1', 'c1', 'm1')).toHaveLength(2);
    const turn = {
      tenantId: 't1',
      conversationId: 'c1',
      userMessage: { messageId: 'm9', content: 'x' },
      reply: reply('m9'),
      usage,
      llmCallId: 'run/1/1',
    };
    await store.persistTurn(turn);
    expect(await calls.acceptedTotals('t1', 'c1')).toEqual({ calls: 1, ...usage });
    expect(await calls.spentToday('t1')).toBeCloseTo(0.000123456, 9);
    const report = await calls.costReport({ tenantId: 't1' });
    expect(report[0]).toMatchObject({ tenantId: 't1', model: 'claude-sonnet-5-5', calls: 2, failedCalls: 1 });
  });

  it('deletes a conversation with everything under it', async () => {
    expect(await store.delete('t1', 'c1')).toBe(true);
    expect(await store.recent('t1', 'c1', 10)).toEqual([]);
    expect(await store.delete('t1', 'c1')).toBe(false);
  });
});

describe('token calibration', () => {
  it('learns the ratio of reported to estimated tokens and keeps it across restarts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-cal-'));
    const db = await openPglite(path.join(dir, 'db'));
    try {
      await migrate(db);
      const store = new CalibrationStore(db);
      const saves: Promise<void>[] = [];
      const cal = new TokenCalibration({}, 0.5, (m, r, n) => saves.push(store.save(m, r, n)), 2);
      for (let i = 0; i < 6; i++) cal.observe('claude-sonnet-5-5', 1000, 1200);
      await Promise.all(saves);
      expect(cal.ratio('claude-sonnet-5-5')).toBeCloseTo(1.2, 5);
      expect(cal.apply('claude-sonnet-5-5', 100)).toBe(120);
      const restarted = new TokenCalibration(await store.load());
      expect(restarted.ratio('claude-sonnet-5-5')).toBeCloseTo(1.2, 5);
      expect(restarted.ratio('claude-haiku-5-5')).toBe(1);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL going away mid-transaction', () => {
  it('fails that transaction, crashes nothing, and the next one works once the server is back', async () => {
    const server = await postgresProcess();
    const db = openPostgres(server.url, 2);
    try {
      // Between two statements, no query is there to receive the error: it reaches the checked-out client itself.
      const interrupted = db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await server.stop('immediate');
        await new Promise((r) => setTimeout(r, 200));
        await tx.query('SELECT 2');
      });
      await expect(interrupted).rejects.toThrow();
      await server.start();
      const rows = await db.transaction((tx) => tx.query<{ n: number }>('SELECT 3 AS n'));
      expect(rows).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
      await server.destroy();
    }
  });
});
