/**
 * Where a turn's round trip goes, from `sendMessage` to its answer, on the test services (scripts/services.sh): an
 * in-process worker and client (test/helpers/stack.ts), N sequential turns on one conversation, and per turn the
 * segments of the path the answer waits on, in order (median and mean over turns, ms):
 *   client    the pre-send read (`openForMessage`), the update's way to the server (to the accepting task's
 *             scheduling), the read of the stored turn after its notice (`findTurn`);
 *   Temporal  the accepting workflow task: dispatch, its way to the worker, the worker's activation (the SDK's
 *             `handleActivation`, the workflow sandbox included), its completion RPC, and the eager activity's
 *             way to the activity function;
 *   activity  `generateReply` itself (scripts/time-reply.ts splits it).
 * Client and worker times are this process's clock, history times the server's (same machine): segments that cross
 * them are good to a few tenths of a millisecond. The worker side is timed by wrapping the SDK's calls into Core
 * (`workerPollWorkflowActivation`, `workerCompleteWorkflowActivation`, `workerPollActivityTask`), so the code
 * measured is the code shipped. A profiling aid, not a benchmark (bench/ owns the figures); compare runs taken in
 * the same minute.
 *
 *   npx tsx scripts/critical-path.ts [--turns 60] [--think 0]
 *
 * `--think MS` waits that long between a reply and the next message, as a user does: with 0 the next message can
 * find the previous turn's closing workflow task still running, and waits for it.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { coresdk, type temporal } from '@temporalio/proto';
import { startStack, uniqueId } from '../test/helpers/stack';
import { WORKFLOW_BUNDLE_PATH } from '../test/helpers/services';
import { writePrebuiltBundle } from '../src/temporal/bundle';
import { isBundleFresh } from '../src/temporal/bundle-freshness';
import { ConversationStore } from '../src/storage/conversations';
import { historyAfterTurns } from '../src/replay/history';
import { conversationWorkflowId } from '../workflows/contract';

const { values: args } = parseArgs({
  options: { turns: { type: 'string', default: '60' }, think: { type: 'string', default: '0' } },
});
const TURNS = Number(args.turns);
const THINK_MS = Number(args.think);
const WARMUP = 3;

/** Epoch milliseconds with sub-millisecond resolution: comparable with history's event times. */
const now = () => performance.timeOrigin + performance.now();

/** What was seen of one turn (keyed by its message id), epoch ms. */
type Marks = Partial<
  Record<
    | 'send'
    | 'openStart'
    | 'openEnd'
    | 'findStart'
    | 'findEnd'
    | 'reply'
    | 'activationPolled'
    | 'activationHandled'
    | 'completeCalled'
    | 'completeReturned'
    | 'activityPolled'
    | 'activityStart'
    | 'activityEnd',
    number
  >
>;
const turns = new Map<string, Marks>();
/** The turn being sent (turns are sequential): worker-side marks go to it. */
let current: Marks | undefined;
const mark = (name: keyof Marks, at = now()) => {
  if (current && current[name] === undefined) current[name] = at;
};

/** Wraps an async method so that its start and end are marked on the current turn (first call per turn only). */
function markAround(proto: object, method: string, start: keyof Marks, end: keyof Marks): void {
  const target = proto as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = target[method]!;
  target[method] = async function (this: unknown, ...a: unknown[]) {
    mark(start);
    try {
      return await original.apply(this, a);
    } finally {
      mark(end);
    }
  };
}
markAround(ConversationStore.prototype, 'openForMessage', 'openStart', 'openEnd');
markAround(ConversationStore.prototype, 'findTurn', 'findStart', 'findEnd');

// The worker's calls into Core: only the accepting task's activation (its `doUpdate` job) is marked.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK's bridge, wrapped for timing
const { native } = require('@temporalio/core-bridge') as {
  native: Record<string, (...a: unknown[]) => Promise<unknown>>;
};
let acceptingActivation = false;
const pollActivation = native.workerPollWorkflowActivation!;
native.workerPollWorkflowActivation = async (...a) => {
  const buffer = await pollActivation(...a);
  const at = now();
  const activation = coresdk.workflow_activation.WorkflowActivation.decode(new Uint8Array(buffer as Buffer));
  acceptingActivation = activation.jobs.some((j) => j.doUpdate);
  if (acceptingActivation) mark('activationPolled', at);
  return buffer;
};
const completeActivation = native.workerCompleteWorkflowActivation!;
native.workerCompleteWorkflowActivation = async (...a) => {
  const accepting = acceptingActivation;
  acceptingActivation = false;
  if (accepting) mark('completeCalled');
  const out = await completeActivation(...a);
  if (accepting) mark('completeReturned');
  return out;
};
const pollActivity = native.workerPollActivityTask!;
native.workerPollActivityTask = async (...a) => {
  const buffer = await pollActivity(...a);
  mark('activityPolled');
  return buffer;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker's internal class, wrapped for timing
const { Activity } = require('@temporalio/worker/lib/activity') as {
  Activity: { prototype: Record<string, (...a: unknown[]) => Promise<unknown>> };
};
const execute = Activity.prototype.execute!;
Activity.prototype.execute = async function (this: unknown, ...a: unknown[]) {
  const isReply = Context.current().info.activityType === 'generateReply';
  if (isReply) mark('activityStart');
  try {
    return await execute.apply(this, a);
  } finally {
    if (isReply) mark('activityEnd');
  }
};

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const at = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** The accepting workflow task of each update (by update id = message id): scheduled, started, completed. */
function acceptingTasks(
  events: HistoryEvent[],
): Map<string, { scheduled: number; started: number; completed: number }> {
  const out = new Map<string, { scheduled: number; started: number; completed: number }>();
  let task = { scheduled: NaN, started: NaN, completed: NaN };
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes) task = { scheduled: at(e), started: NaN, completed: NaN };
    if (e.workflowTaskStartedEventAttributes) task.started = at(e);
    if (e.workflowTaskCompletedEventAttributes) task.completed = at(e);
    const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
    if (id) out.set(id, { ...task });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

async function main(): Promise<void> {
  if (!isBundleFresh(WORKFLOW_BUNDLE_PATH)) await writePrebuiltBundle('plain');
  const stack = await startStack({ api: false, env: { MEMOIR_LOG_LEVEL: 'warn' } });
  try {
    const { memoir, temporal: t } = stack.serving.services;
    const tenant = stack.tenants.acme.id;
    const conversationId = uniqueId('path');
    for (let i = 0; i < WARMUP + TURNS; i++) {
      const messageId = `m${i}-${uniqueId('x')}`;
      current = i >= WARMUP ? {} : undefined;
      if (current) turns.set(messageId, current);
      mark('send');
      await memoir.sendMessage(tenant, conversationId, {
        messageId,
        content: `Turn ${i}: I moved to Lisbon in ${2000 + i} and I like tea with lemon number ${i}.`,
      });
      mark('reply');
      current = undefined;
      if (THINK_MS > 0) await sleep(THINK_MS);
    }
    const history = await historyAfterTurns(
      t.client.workflow.getHandle(conversationWorkflowId(tenant, conversationId)),
    );
    const tasks = acceptingTasks(history.events ?? []);
    const segments: [
      string,
      (m: Required<Marks>, w: { scheduled: number; started: number; completed: number }) => number,
    ][] = [
      ['client: openForMessage', (m) => m.openEnd - m.openStart],
      ['client → server: update to task scheduled', (m, w) => w.scheduled - m.openEnd],
      ['Temporal: task scheduled → started', (_, w) => w.started - w.scheduled],
      ['Temporal → worker: task started → activation polled', (m, w) => m.activationPolled - w.started],
      ['worker: activation (handleActivation)', (m) => m.completeCalled - m.activationPolled],
      ['worker → Temporal: completion to task completed', (m, w) => w.completed - m.completeCalled],
      ['Temporal → worker: task completed → activity polled', (m, w) => m.activityPolled - w.completed],
      ['worker: activity polled → function', (m) => m.activityStart - m.activityPolled],
      ['activity: generateReply', (m) => m.activityEnd - m.activityStart],
      ['client: activity end → findTurn', (m) => m.findStart - m.activityEnd],
      ['client: findTurn', (m) => m.findEnd - m.findStart],
      ['client: answer', (m) => m.reply - m.findEnd],
      ['round trip', (m) => m.reply - m.send],
      ['(completion RPC, whole)', (m) => m.completeReturned - m.completeCalled],
    ];
    const rows = new Map<string, number[]>();
    for (const [id, m] of turns) {
      const w = tasks.get(id);
      if (!w) continue;
      for (const [name, f] of segments) {
        const v = f(m as Required<Marks>, w);
        if (Number.isFinite(v)) rows.set(name, [...(rows.get(name) ?? []), v]);
      }
    }
    console.log(`\n${turns.size} turns, think ${THINK_MS} ms; segments in path order (ms)`);
    console.log(`${'segment'.padEnd(52)} ${'p50'.padStart(7)} ${'mean'.padStart(7)} ${'turns'.padStart(6)}`);
    for (const [name] of segments) {
      const v = rows.get(name) ?? [];
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      console.log(
        `${name.padEnd(52)} ${median(v).toFixed(2).padStart(7)} ${mean.toFixed(2).padStart(7)} ${String(v.length).padStart(6)}`,
      );
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
