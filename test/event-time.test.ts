/**
 * Event time end to end: a message's `sentAt` goes through the HTTP API and the workflow, is stored with the
 * message (and its reply), comes back from the message list, and dates the message where context renders it.
 * Real Temporal, PostgreSQL, Redis and Weaviate; the offline model answers.
 */
import type { ConversationState } from '../workflows/contract';
import { startStack, uniqueId, type Stack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    api: true,
    // Compaction folds early messages away, so the dated one can only come back through memory.
    env: { MEMOIR_COMPACT_AFTER_MESSAGES: '8', MEMOIR_RECENT_MESSAGES: '2' },
  });
});
afterAll(() => stack?.stop());

async function settled(conversationId: string): Promise<ConversationState> {
  for (let i = 0; i < 600; i++) {
    const state = await stack.serving.services.memoir.getState(stack.tenants.acme.id, conversationId);
    if (!state.upkeepRunning) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('memory upkeep did not settle');
}

describe('sentAt', () => {
  it('is stored, listed and renders as the date of the recalled message in /context', async () => {
    const id = uniqueId('dated');
    const first = await stack.http('POST', `/v1/conversations/${id}/messages`, {
      content: 'I went to the LGBTQ support group yesterday and it was powerful.',
      messageId: 'd-1',
      userId: 'caroline',
      sentAt: '2023-05-08T13:56:00Z',
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    for (let i = 2; i <= 10; i++) {
      const res = await stack.http('POST', `/v1/conversations/${id}/messages`, {
        content: `Filler ${i}: the weather, the garden and the bread from the market.`,
      });
      expect(res.status).toBe(200);
    }

    const listed = (await stack.http('GET', `/v1/conversations/${id}/messages?limit=100`)).body.messages;
    // The reply belongs to the exchange it answers: it carries the same event time.
    expect(listed.slice(0, 2).map((m: any) => m.sentAt)).toEqual([
      '2023-05-08T13:56:00.000Z',
      '2023-05-08T13:56:00.000Z',
    ]);
    expect(listed[2].sentAt).toBeUndefined();

    await settled(id);
    const preview = await stack.http('POST', `/v1/conversations/${id}/context`, {
      query: 'When did I go to the support group?',
    });
    expect(preview.status).toBe(200);
    const text: string = preview.body.blocks.map((b: any) => b.text).join('\n');
    // Recall puts a date header over each session; the archive dates each line. Either way: the day it was said.
    expect(text).toMatch(
      /(\[2023-05-08\]\n(user|assistant): [^\n]*support group)|(\(#1 user 2023-05-08\) I went to the LGBTQ support group)/,
    );
  });

  it('is refused with a 400 when it is not a timestamp or lies in the future', async () => {
    const id = uniqueId('undated');
    for (const sentAt of [
      '8 May 2023',
      '2023-05-08',
      '2023-05-08T13:56:00',
      new Date(Date.now() + 86_400_000).toISOString(),
    ]) {
      const res = await stack.http('POST', `/v1/conversations/${id}/messages`, {
        content: 'hello',
        userId: 'ann',
        sentAt,
      });
      expect(res.status, sentAt).toBe(400);
      expect(res.body.error.code).toEqual(expect.any(String));
      expect(res.body.error.message).toMatch(/sentAt/);
    }
    // Nothing was written.
    expect((await stack.http('GET', `/v1/conversations/${id}`)).status).toBe(404);
  });
});
