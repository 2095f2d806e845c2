/**
 * The cache-stable prompt, end to end on the real stack, checked on the offline model's cache accounting (which
 * follows the API: breakpoints, lookback, TTL): between folds each turn reads exactly what the turn before sent up
 * to its last breakpoint; a fold appends a summary segment, so the turn after it still reads the system prompt and
 * the earlier segments from cache; the recall gate leaves a quiet message without a recall block; and a pause folds
 * the whole window, so the session after it writes only the system prompt, the archive and its new message.
 */
import { startStack, uniqueId, type Stack } from '../helpers/stack';

const SYSTEM = 'You are a meticulous harbour guide who answers in full sentences. '.repeat(90); // ~1,500 tokens
const filler = (i: number) =>
  `Turn ${i}: tell me about pier ${i}, where boat ${i} moors. The ferry timetable changes in winter.`;

describe('cache-stable prompt', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      env: {
        MEMOIR_COMPACT_AFTER_MESSAGES: '8',
        MEMOIR_RECENT_MESSAGES: '4',
        MEMOIR_FACTS_EVERY: '1000',
      },
    });
  });
  afterAll(() => stack?.stop());

  async function settled(conversationId: string) {
    for (let i = 0; i < 600; i++) {
      const state = await stack.serving.services.memoir.getState(stack.tenants.acme.id, conversationId);
      if (!state.upkeepRunning) return state;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('memory upkeep did not settle');
  }

  it('keeps the cached prefix between folds, and a fold appends a segment read from cache after it', async () => {
    const tenant = stack.tenants.acme.id;
    const { memoir, db } = stack.serving.services;
    const { conversationId } = await memoir.startConversation(tenant, {
      conversationId: uniqueId('stable'),
      userId: 'ed',
      systemPrompt: SYSTEM,
    });
    const turns: { version: number | null; segments: number }[] = [];
    for (let i = 1; i <= 16; i++) {
      await memoir.sendMessage(tenant, conversationId, { content: filler(i), messageId: `s${i}` });
      await settled(conversationId);
      const manifest = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/s${i}/context`)).body;
      const summary = manifest.blocks.find((b: { tier: string }) => b.tier === 'summary');
      turns.push({ version: manifest.summaryVersion, segments: summary?.sourceIds.length ?? 0 });
    }
    const calls = await db.query<{ turn: number; read: number; write: number }>(
      `SELECT turn, cache_read_tokens AS read, cache_write_5m_tokens + cache_write_1h_tokens AS write
         FROM llm_calls WHERE conversation_id = $1 AND purpose = 'reply' AND outcome = 'ok' ORDER BY turn`,
      [conversationId],
    );
    expect(calls).toHaveLength(16);
    const systemTokens = Math.ceil(SYSTEM.length / 4);
    let steady = 0;
    let appended = 0;
    for (let i = 1; i < turns.length; i++) {
      const [before, after] = [calls[i - 1]!, calls[i]!];
      if (turns[i]!.version === turns[i - 1]!.version) {
        // Between folds: this turn reads everything the previous one sent up to its last breakpoint.
        expect(Number(after.read), `turn ${i + 1}`).toBe(Number(before.read) + Number(before.write));
        steady++;
      } else if (turns[i - 1]!.version !== null) {
        // A fold after the first appends a segment: the system prompt and the earlier segments are still read
        // from cache (a rewritten summary would leave only the system prompt to read).
        expect(Number(after.read), `turn ${i + 1}`).toBeGreaterThan(systemTokens + 10);
        expect(turns[i]!.segments).toBe(turns[i - 1]!.segments + 1);
        appended++;
      }
    }
    expect(steady).toBeGreaterThan(5);
    expect(appended).toBeGreaterThanOrEqual(1);
  });

  it('gates recall: a quiet message gets no recall block, a question about an old detail does', async () => {
    const tenant = stack.tenants.acme.id;
    const { memoir } = stack.serving.services;
    const { conversationId } = await memoir.startConversation(tenant, {
      conversationId: uniqueId('gate'),
      userId: 'fa',
    });
    await memoir.sendMessage(tenant, conversationId, {
      content: 'My sister Marguerite keeps a red kayak called Albatross at the marina in Zadar.',
    });
    // Enough turns that the detail has left the window and the older messages kept beside the summary.
    for (let i = 1; i <= 40; i++) await memoir.sendMessage(tenant, conversationId, { content: filler(i) });
    await settled(conversationId);
    await memoir.sendMessage(tenant, conversationId, { content: 'Thanks, that is nice.', messageId: 'quiet' });
    await memoir.sendMessage(tenant, conversationId, {
      content: 'What is the name of the kayak Marguerite keeps in Zadar?',
      messageId: 'asks',
    });
    const manifest = async (id: string) =>
      (await stack.http('GET', `/v1/conversations/${conversationId}/messages/${id}/context`)).body;
    const quiet = await manifest('quiet');
    expect(quiet.recallGate.open).toBe(false);
    expect(quiet.blocks.map((b: { tier: string }) => b.tier)).not.toContain('semantic');
    // A closed gate is known from the lexical hits alone: the quiet turn never embedded its message nor searched
    // the vector store (the manifest times each tier it ran).
    expect(quiet.timings).toHaveProperty('lexical');
    expect(quiet.timings).not.toHaveProperty('semantic');
    const asks = await manifest('asks');
    expect(asks.recallGate.open).toBe(true);
    // The detail's message (the conversation's first) is recalled, in the per-turn block.
    expect(asks.recall.messageSeqs).toContain(1);
    expect(asks.blocks.map((b: { tier: string }) => b.tier)).toContain('semantic');
    expect(asks.timings).toHaveProperty('semantic');
  });
});

describe('a pause', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The idle upkeep 1 s after the last message; no fold or fact extraction before it.
    stack = await startStack({ api: true, env: { MEMOIR_COMPACT_WHEN_IDLE: '1s', MEMOIR_FACTS_EVERY: '1000' } });
  });
  afterAll(() => stack?.stop());

  it('folds the whole window: the turn after it writes only the system prompt, the archive and its message', async () => {
    const tenant = stack.tenants.acme.id;
    const { memoir } = stack.serving.services;
    const { conversationId } = await memoir.startConversation(tenant, {
      conversationId: uniqueId('pause'),
      userId: 'gu',
      systemPrompt: SYSTEM,
    });
    // 12 messages: more than the newest 10 a turn always keeps verbatim between folds.
    for (let i = 1; i <= 6; i++) await memoir.sendMessage(tenant, conversationId, { content: filler(i) });
    for (let i = 0; ; i++) {
      const state = await memoir.getState(tenant, conversationId);
      if (state.memory.summaryVersion !== null && state.memory.unsummarizedMessages === 0 && !state.upkeepRunning)
        break;
      if (i > 600) throw new Error(`the pause did not fold the window: ${JSON.stringify(state.memory)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Six hours pass on the model's cache clock: every entry has expired.
    await fetch(`${stack.offline.url}/_offline/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: 6 * 3_600_000 }),
    });
    await memoir.sendMessage(tenant, conversationId, { content: 'I am back. Where were we?', messageId: 'back' });
    const manifest = (await stack.http('GET', `/v1/conversations/${conversationId}/messages/back/context`)).body;
    expect(manifest.historySeqs).toEqual([]);
    expect(manifest.blocks.map((b: { tier: string }) => b.tier)).toEqual(
      expect.arrayContaining(['system', 'summary', 'current']),
    );
    expect(manifest.blocks.map((b: { tier: string }) => b.tier)).not.toContain('recent');
    // The lines just before the pause are still there, verbatim, in the archive's older messages.
    expect(manifest.olderSeqs).toContain(12);
    // The reply's call (the upkeep's calls carry a task marker in their system prompt).
    const request = (await stack.offline.requests())
      .filter((r) => JSON.stringify(r.body?.messages ?? []).includes('I am back.'))
      .find((r) => !JSON.stringify(r.body.system).includes('memoir-task'))!;
    // Only the new message after the system blocks: no verbatim history to write again.
    expect(request.body.messages).toHaveLength(1);
    expect(JSON.stringify(request.body.messages)).toContain('I am back.');
    expect(request.usage.cache_read_input_tokens).toBe(0);
  }, 90_000);
});
