/**
 * Tiered memory end to end on real Redis, PostgreSQL, Weaviate and PGlite with pgvector: what the model sees each
 * turn is assembled within budget, concurrently, from the right tiers, and old facts come back when asked about.
 */
import type { ConversationState } from '../workflows/contract';
import { startStack, uniqueId, type Stack } from './helpers/stack';

const filler = (i: number) =>
  `Turn ${i}: let us talk about harbour number ${i}, its moorings, the ferry timetable and where to buy bread.`;

async function settled(stack: Stack, conversationId: string): Promise<ConversationState> {
  for (let i = 0; i < 600; i++) {
    const state = await stack.serving.services.memoir.getState(stack.tenants.acme.id, conversationId);
    if (!state.upkeepRunning) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('memory upkeep did not settle');
}

describe.each([
  ['PostgreSQL + Redis + Weaviate', 'postgres' as const],
  ['PGlite with pgvector', 'pglite' as const],
])('memory on %s', (_name, db) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      db,
      api: true,
      env: { MEMOIR_COMPACT_AFTER_MESSAGES: '16', MEMOIR_RECENT_MESSAGES: '6', MEMOIR_FACTS_EVERY: '1' },
    });
  });
  afterAll(() => stack?.stop());

  it('brings back a fact planted at turn 3 when asked about it much later', async () => {
    const turns = db === 'pglite' ? 60 : 200;
    const tenant = stack.tenants.acme.id;
    const { memoir } = stack.serving.services;
    const conversationId = uniqueId('planted');
    for (let i = 1; i < turns; i++) {
      const content = i === 3 ? 'By the way, my favourite island is Vis, since my first sailing trip.' : filler(i);
      await memoir.sendMessage(tenant, conversationId, { content, userId: 'ada' });
    }
    await settled(stack, conversationId);
    const answer = await memoir.sendMessage(tenant, conversationId, {
      content: 'What is my favourite island?',
      messageId: 'ask',
    });
    // The offline model can only answer from what it was sent: this is the context at work.
    expect(answer.reply.content).toBe('Your favourite island is Vis.');

    const manifest = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/ask/context`)).body;
    expect(manifest.historySeqs).not.toContain(5); // turn 3's message is long out of the recent window
    expect(manifest.summaryVersion).toBeGreaterThan(0);
    const found = manifest.blocks.filter((b: any) => ['facts', 'semantic', 'older', 'summary'].includes(b.tier));
    expect(found.length).toBeGreaterThan(0);

    const preview = (
      await stack.http('POST', `/v1/conversations/${conversationId}/context`, { query: 'What is my favourite island?' })
    ).body;
    const text = preview.blocks.map((b: any) => b.text).join('\n');
    expect(text).toMatch(/favourite island is Vis/);
    // A preview adds nothing to the conversation.
    const state = await memoir.getState(tenant, conversationId);
    expect(state.turnCount).toBe(turns);
  });

  it('never exceeds the budget, whatever the budget', async () => {
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('budget');
    for (let i = 1; i <= 24; i++)
      await stack.serving.services.memoir.sendMessage(tenant, conversationId, { content: filler(i), userId: 'bo' });
    await settled(stack, conversationId);
    for (const budgetTokens of [300, 500, 800, 1500, 3000, 8000]) {
      for (const query of ['ferry timetable', 'harbour number 7 moorings', 'bread']) {
        const p = (await stack.http('POST', `/v1/conversations/${conversationId}/context`, { query, budgetTokens }))
          .body;
        const sum = p.blocks.reduce((t: number, b: any) => t + b.tokens, 0);
        expect(p.usedTokens).toBe(sum);
        expect(p.usedTokens, `budget ${budgetTokens}, query ${query}`).toBeLessThanOrEqual(budgetTokens);
        expect(p.blocks.map((b: any) => b.tier)).toContain('current');
      }
    }
    // At the turn's default budget the archive's cap holds a full summary (the summary model is never asked for more).
    const big = (
      await stack.http('POST', `/v1/conversations/${conversationId}/context`, {
        query: 'harbour number 7',
        budgetTokens: 16_000,
      })
    ).body;
    expect(big.blocks.map((b: any) => b.tier)).toEqual(
      expect.arrayContaining(['system', 'summary', 'recent', 'current']),
    );
  });

  it('loads its tiers concurrently', async () => {
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('concurrent');
    for (let i = 1; i <= 4; i++)
      await stack.serving.services.memoir.sendMessage(tenant, conversationId, {
        content: filler(i),
        userId: 'cy',
        messageId: `c${i}`,
      });
    // The first turn: the lexical search runs from the start. By the fourth, the worker knows every message is in
    // context, and a search could not change the turn: it is left out (test/context/conversation-cache.test.ts).
    const manifest = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/c1/context`)).body;
    const fourth = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/c4/context`)).body;
    expect(fourth.timings.lexical).toBeUndefined();
    expect(fourth.historySeqs).toEqual([1, 2, 3, 4, 5, 6]);
    const t = manifest.timings as Record<string, [number, number]>;
    // The conversation row (and its last sequence number) was read by loadContext before assembly began.
    const firstWave = ['summary', 'lexical'].map((k) => t[k]!);
    // Every first-wave tier started before any of them finished: they ran side by side, not one after another.
    expect(Math.max(...firstWave.map(([start]) => start))).toBeLessThanOrEqual(
      Math.min(...firstWave.map(([, end]) => end)),
    );
    // Semantic recall waits only for the gate's signal (the lexical hits), not for the first wave: when it runs at
    // all, it has started by the time the second wave (the window) does, and runs beside it.
    if (t.semantic) expect(t.semantic[0]).toBeLessThanOrEqual(t.recent![0]);
  });

  it('compacts old history into a summary and keeps the newest messages verbatim', async () => {
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('compact');
    for (let i = 1; i <= 12; i++)
      await stack.serving.services.memoir.sendMessage(tenant, conversationId, {
        content: filler(i),
        userId: 'di',
        messageId: `k${i}`,
      });
    const state = await settled(stack, conversationId);
    expect(state.memory.summaryVersion).toBeGreaterThanOrEqual(1);
    const summary = await stack.serving.services.summaries.latest(tenant, conversationId);
    expect(summary!.text.length).toBeGreaterThan(0);
    expect(summary!.sourceTokens / summary!.tokens).toBeGreaterThan(1);
    await stack.serving.services.memoir.sendMessage(tenant, conversationId, {
      content: 'and one more',
      messageId: 'k13',
    });
    const manifest = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/k13/context`)).body;
    expect(manifest.summaryVersion).toBe(summary!.version);
    // Everything after the summary is verbatim, and that is at least the newest 6.
    expect(manifest.historySeqs[0]).toBe(summary!.toSeq + 1);
    expect(manifest.historySeqs.length).toBeGreaterThanOrEqual(6);
    expect(manifest.historySeqs.at(-1)).toBe(24);
    const rows = await stack.serving.services.db.query(
      `SELECT purpose, accepted FROM llm_calls WHERE conversation_id = $1 AND purpose = 'summary'`,
      [conversationId],
    );
    expect(rows.length).toBeGreaterThanOrEqual(1);
  });

  it('keeps the cached memory block (summary, facts, older messages) identical between compactions', async () => {
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('stable');
    const { memoir } = stack.serving.services;
    for (let i = 1; i <= 12; i++)
      await memoir.sendMessage(tenant, conversationId, { content: filler(i), userId: 'fi' });
    const before = await settled(stack, conversationId);
    expect(before.memory.summaryVersion).toBeGreaterThanOrEqual(1);
    await memoir.sendMessage(tenant, conversationId, { content: 'one more', messageId: 'x1' });
    await memoir.sendMessage(tenant, conversationId, { content: 'and another', messageId: 'x2' });
    const [a, b] = await Promise.all(
      ['x1', 'x2'].map(
        async (id) => (await stack.http('GET', `/v1/conversations/${conversationId}/messages/${id}/context`)).body,
      ),
    );
    expect(a.summaryVersion).toBe(b.summaryVersion);
    expect(a.olderSeqs.length).toBeGreaterThan(0);
    expect(b.olderSeqs).toEqual(a.olderSeqs);
    expect(b.historySeqs.slice(0, a.historySeqs.length)).toEqual(a.historySeqs);
  });

  it('stores a repeated fact once and lets a contradicting one supersede it', async () => {
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('facts');
    const { memoir, facts } = stack.serving.services;
    await memoir.sendMessage(tenant, conversationId, { content: 'My favourite colour is blue.', userId: 'ed' });
    await settled(stack, conversationId);
    await memoir.sendMessage(tenant, conversationId, { content: 'As I said, my favourite colour is blue.' });
    await settled(stack, conversationId);
    let all = await facts.all(tenant, conversationId);
    expect(all.filter((f) => f.subject === 'favourite colour')).toHaveLength(1);
    await memoir.sendMessage(tenant, conversationId, { content: 'Actually my favourite colour is green now.' });
    await settled(stack, conversationId);
    all = await facts.all(tenant, conversationId);
    const colour = all.filter((f) => f.subject === 'favourite colour');
    expect(colour.map((f) => [f.text, f.status])).toEqual([
      ["The user's favourite colour is blue.", 'superseded'],
      ["The user's favourite colour is green now.", 'active'],
    ]);
    expect(colour[0]!.supersededBy).toBe(colour[1]!.factId);
    expect(colour[1]!.sourceMessageIds).toHaveLength(1);
  });
});
