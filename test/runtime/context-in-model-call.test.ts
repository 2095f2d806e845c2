/**
 * The model call runs the turn's context step (patch `model-call-loads-context`): once per turn, whatever the
 * attempts and fallback models, and a retry after a crash answers with the turn its first attempt stored.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { StoredReply } from '../../activities/generate-reply';
import { activityDeps } from '../../src/runtime/worker';
import { conversationWorkflowId } from '../../workflows/contract';
import { startStack, uniqueId, type Stack } from '../helpers/stack';

let stack: Stack;
let assembled = 0;
beforeAll(async () => {
  stack = await startStack({ api: false, env: { MEMOIR_FACTS_EVERY: '1000' } });
  // Counts context assemblies: the worker's activities share this assembler.
  const { assembler } = stack.serving.services;
  const assemble = assembler.assemble.bind(assembler);
  assembler.assemble = (input) => {
    assembled++;
    return assemble(input);
  };
});
afterAll(() => stack?.stop());
afterEach(() => stack.offline.reset());

it('assembles the context once per turn when the chain falls back to another model', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('fallback-once');
  const { memoir } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I climb.', userId: 'u' });
  // The primary cannot serve us (404: the chain moves on at once); the fallback answers.
  await stack.offline.script([{ action: { kind: 'error', status: 404 }, model: 'claude-sonnet-5-5' }]);
  const before = assembled;
  const answered = await memoir.sendMessage(tenantId, conversationId, { content: 'Where do I climb?' });
  expect(answered.reply).toMatchObject({ model: 'claude-haiku-5-5', degraded: false });
  expect(assembled - before).toBe(1);
  const state = await memoir.getState(tenantId, conversationId);
  expect(state.lastContext?.tokens).toBeGreaterThan(0);
});

it('a degraded turn still reports its context', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('degraded-context');
  const { memoir } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I paint.', userId: 'u' });
  await stack.offline.script([{ action: { kind: 'error', status: 404 } }]);
  const before = assembled;
  const answered = await memoir.sendMessage(tenantId, conversationId, { content: 'What do I paint?' });
  expect(answered.reply.degraded).toBe(true);
  expect(assembled - before).toBe(1);
  expect((await memoir.getState(tenantId, conversationId)).lastContext?.tokens).toBeGreaterThan(0);
});

it('a retried attempt answers with the turn its first attempt stored, not as a repeated message', async () => {
  const tenantId = stack.tenants.acme.id;
  const conversationId = uniqueId('retried-one-call');
  const { memoir } = stack.serving.services;
  await memoir.sendMessage(tenantId, conversationId, { content: 'Hello, I run.', userId: 'u' });
  const activities = createActivities(activityDeps(stack.serving.services));
  const env = (attempt: number, activityId = 'reply-1') =>
    new MockActivityEnvironment({
      activityId,
      attempt,
      workflowExecution: { workflowId: conversationWorkflowId(tenantId, conversationId), runId: 'run-one-call' },
    });
  const call = {
    messageId: uniqueId('m'),
    turn: 2,
    model: 'claude-sonnet-5-5',
    content: 'Where do I run?',
    persist: {},
    assemble: 'first' as const,
  };
  const generateReply = (n: number, input = call): Promise<StoredReply> =>
    // A later turn's call is another activity (its own id): one with this call's id finds its own stored turn.
    env(n, input.turn === call.turn ? 'reply-1' : 'reply-2').run(
      (i: typeof call) => activities.generateReply(i),
      input,
    );

  const before = assembled;
  const answered = await generateReply(1);
  expect(answered.messageId).toBeDefined();
  expect(answered.repeated).toBeUndefined();
  const requests = (await stack.offline.requests()).length;
  // The first attempt's result was lost (its worker died after the write): the retry finds this turn stored.
  const retried = await generateReply(2);
  expect(retried).toMatchObject({ messageId: answered.messageId, content: answered.content, attempt: 2 });
  expect(retried.repeated).toBeUndefined();
  expect(assembled - before).toBe(1);
  expect((await stack.offline.requests()).length).toBe(requests);

  // The same messageId in a later turn is a repeated message: answered from the store, or refused with other text.
  expect(await generateReply(1, { ...call, turn: 3 })).toMatchObject({ messageId: answered.messageId, repeated: true });
  await expect(generateReply(1, { ...call, turn: 3, content: 'Something else' })).rejects.toMatchObject({
    type: 'MessageIdConflict',
  });
  expect((await stack.offline.requests()).length).toBe(requests);
  expect(await memoir.messages(tenantId, conversationId, { limit: 10 })).toHaveLength(4);
});
