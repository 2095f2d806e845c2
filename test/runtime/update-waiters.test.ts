/**
 * An update handler waits for its own message's turn (workflows/conversation.ts: one promise per waiting update,
 * resolved when its turn ends, instead of a condition re-checked on every activation). Messages queued behind a
 * running turn are each answered with their own turn, in arrival order, beside a signalled message that has no
 * waiter; when the conversation ends, the updates still queued are refused, and the running one is answered.
 */
import { type WorkflowUpdateFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  endConversationSignal,
  FailureTypes,
  getStateQuery,
  postMessageSignal,
  sendMessageUpdate,
  type SentMessage,
} from '../../workflows/contract';
import { startStack, uniqueId, type Stack } from '../helpers/stack';

type Answered = Exclude<SentMessage, { stored: true }>;
const EventType = temporal.api.enums.v1.EventType;

/** Waits until `check` holds (polled; the stack's turns move on their own). */
const until = (check: () => Promise<boolean>, what: string) =>
  vi.waitFor(async () => expect(await check(), what).toBe(true), { timeout: 30_000, interval: 50 });

describe('update waiters', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(() => stack?.stop());

  it('answers each queued update with its own turn and refuses the queued ones when the conversation ends', async () => {
    const tenant = stack.tenants.acme.id;
    const { memoir } = stack.serving.services;
    const id = uniqueId('waiters');
    await memoir.startConversation(tenant, { conversationId: id, userId: 'u' });
    const handle = memoir.handle(tenant, id);
    const send = (content: string, updateId: string) =>
      handle.executeUpdate(sendMessageUpdate, { args: [{ content }], updateId }) as Promise<Answered>;
    const pending = async (n: number) => (await handle.query(getStateQuery)).pendingMessages === n;

    // The first turn is held in its model call while four more messages queue behind it (one by signal).
    await stack.offline.script([{ action: { kind: 'hold', gate: `${id}-a` }, lastUserContains: 'zero', times: 1 }]);
    const sends = [send('message zero', 'w-0')];
    await until(() => pending(1), 'the first turn runs');
    // One at a time: two updates sent at once may reach the server in either order.
    sends.push(send('message one', 'w-1'));
    await until(() => pending(2), 'an update queues');
    sends.push(send('message two', 'w-2'));
    await until(() => pending(3), 'a second update queues');
    await handle.signal(postMessageSignal, { messageId: 'w-s', content: 'message signalled' });
    sends.push(send('message three', 'w-3'));
    await until(() => pending(5), 'the signal and a third update queue');
    await stack.offline.release(`${id}-a`);
    const answers = await Promise.all(sends);
    expect(answers.map((a) => a.messageId)).toEqual(['w-0', 'w-1', 'w-2', 'w-3']);
    for (const [i, word] of ['zero', 'one', 'two', 'three'].entries())
      expect(answers[i]!.reply.content).toContain(`message ${word}`);
    const stored = await memoir.messages(tenant, id, { limit: 20 });
    const users = stored.filter((m) => m.role === 'user').map((m) => m.messageId);
    expect(users).toEqual(['w-0', 'w-1', 'w-2', 'w-s', 'w-3']);
    for (const a of answers) expect(stored.find((m) => m.messageId === a.reply.messageId)?.inReplyTo).toBe(a.messageId);

    // Ended while one turn runs and two updates wait: the running one is answered, the waiting ones refused.
    await stack.offline.script([{ action: { kind: 'hold', gate: `${id}-b` }, lastUserContains: 'four', times: 1 }]);
    const running = send('message four', 'w-4');
    await until(() => pending(1), 'the turn runs');
    const refused = [send('message five', 'w-5'), send('message six', 'w-6')].map((p) =>
      p.then(
        () => 'answered',
        (e: unknown) => ((e as WorkflowUpdateFailedError).cause as ApplicationFailure).type,
      ),
    );
    await until(() => pending(3), 'two updates queue');
    await handle.signal(endConversationSignal, { reason: 'test' });
    await until(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const signalled = events.findLastIndex(
        (e) =>
          e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
          e.workflowExecutionSignaledEventAttributes?.signalName === 'endConversation',
      );
      return (
        signalled >= 0 &&
        events.slice(signalled).some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      );
    }, 'the workflow has seen the end signal');
    await stack.offline.release(`${id}-b`);
    expect((await running).messageId).toBe('w-4');
    expect(await Promise.all(refused)).toEqual([FailureTypes.conversationEnded, FailureTypes.conversationEnded]);
  });
});
