/**
 * A patch asked by the code that runs when a local activity's result comes in is not deterministic relative to
 * history: Core may record the result's marker in one workflow task (when it answers a query meanwhile) and the
 * code's commands in the next, and on replay the code then runs a task early, before Core has told it about the
 * patch markers of that next task. Runs with patch `patches-asked-at-run-start` ask every patch before their first
 * await (docs/changing-workflows.md).
 */
import { createLogger } from '../../src/log';
import { eventTypeName } from '../../src/replay/history';
import { describeOutcome, replayHistory } from '../../src/replay/replay';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { WORKFLOW_BUNDLE_PATH } from '../helpers/services';
import { answerQueryBeforeResolution, splitFirstTask } from './first-task-split';
import { settledHistory, startReplayStack, type ReplayStack } from './stack';

let stack: ReplayStack;
beforeAll(async () => {
  installTemporalRuntime(createLogger({ level: 'error' }));
  stack = await startReplayStack({ workflowSource: { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } } });
});
afterAll(() => stack?.stop());

const source = { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };

it('a first workflow task split around openConversation replays, also when a query answer took the result early', async () => {
  const { memoir, temporal, config } = stack.serving.services;
  const workflowId = await splitFirstTask({
    memoir,
    client: temporal.client,
    databaseUrl: config.databaseUrl!,
    tenantId: stack.tenantId,
    conversationId: 'split',
  });
  const history = await settledHistory(temporal.client, workflowId);
  const events = history.events!;
  const marker = events.findIndex((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  // The heartbeat split the task: openConversation's marker follows a second workflow task completion.
  expect(events.slice(0, marker).filter((e) => eventTypeName(e) === 'WorkflowTaskCompleted').length).toBeGreaterThan(1);

  const recorded = await replayHistory(history, { source, workflowId });
  expect(recorded.ok, describeOutcome(recorded, 'the recorded history')).toBe(true);

  const early = answerQueryBeforeResolution(history);
  expect(early.events!.length).toBe(events.length + 3);
  const outcome = await replayHistory(early, { source, workflowId });
  expect(outcome.ok, describeOutcome(outcome, 'the history with the result recorded a task early')).toBe(true);
});
