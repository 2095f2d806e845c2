/**
 * Captures workflow histories of real runs into test/replay/histories/ — the committed test data that
 * test/replay/replay.test.ts replays against the current workflow code, so a change that breaks determinism fails
 * CI. Each scenario runs on its own whole stack (test services, a fresh PostgreSQL database, the offline model
 * scripted for the scenario) and writes `<name>.json` (the history, as `temporal workflow show -o json` writes it)
 * and `<name>.meta.json` (what, when, from which commit).
 *
 * Usage (test services up: scripts/services.sh start):
 *   npx tsx scripts/capture-histories.ts                 # every scenario
 *   npx tsx scripts/capture-histories.ts fallback        # only the named ones
 *   npx tsx scripts/capture-histories.ts --keep-old      # keep the previous captures as <name>.<commit>.json
 *
 * Keep the old captures (--keep-old) when the workflow changed behind `patched`: runs recorded by the old code may
 * still be in flight, so their histories must go on replaying until the patch is deprecated
 * (docs/changing-workflows.md).
 *
 * Adding a scenario is one entry in SCENARIOS: its environment and a function that drives one conversation and
 * returns the run to capture.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflows } from '../src/temporal/bundle';
import type { Client } from '@temporalio/client';
import type { MemoirClient } from '../src/client/memoir-client';
import { eventTypeName, historyJson } from '../src/replay/history';
import { approveToolCallUpdate, conversationWorkflowId, getStateQuery } from '../workflows/contract';
import { splitFirstTask } from '../test/replay/first-task-split';
import { settledHistory, startReplayStack, until, type ReplayStack } from '../test/replay/stack';

const OUT_DIR = path.join(__dirname, '..', 'test', 'replay', 'histories');
const ROOT = path.join(__dirname, '..');
/** The demo tools module: the tool scenarios use its tools. */
const EXAMPLE_TOOLS = 'examples/tools.ts'; // relative to the repository root, where this script runs

interface ScenarioContext {
  stack: ReplayStack;
  memoir: MemoirClient;
  client: Client;
  tenantId: string;
}

interface Scenario {
  name: string;
  description: string;
  /** Settings for this scenario's stack, as a deployment would set them. */
  env?: Record<string, string>;
  /** Drives one conversation; returns the run whose history is the test data. */
  run(ctx: ScenarioContext): Promise<{ workflowId: string; runId?: string }>;
}

const OVERLOADED = { kind: 'error' as const, status: 529, message: 'Overloaded (scripted by capture-histories)' };

const SCENARIOS: Scenario[] = [
  {
    name: 'plain-turn',
    description: 'A new conversation and two turns answered by the primary model.',
    async run({ memoir, tenantId }) {
      await memoir.sendMessage(tenantId, 'plain', {
        content: 'Hello! My name is Ada.',
        messageId: 'm1',
        userId: 'ada',
      });
      const second = await memoir.sendMessage(tenantId, 'plain', { content: 'What is my name?', messageId: 'm2' });
      check(second.reply.model === 'claude-sonnet-5-5', `expected the primary model, got ${second.reply.model}`);
      return { workflowId: conversationWorkflowId(tenantId, 'plain') };
    },
  },
  {
    name: 'local-model-call',
    description:
      'MEMOIR_MODEL_CALL=local: model calls as local activities — a plain turn, a fallback after 529s, and a slow reply handed over to a generateReply activity after 1.5 s (patch model-call-handover).',
    env: { MEMOIR_MODEL_CALL: 'local' },
    async run({ stack, memoir, tenantId }) {
      await memoir.sendMessage(tenantId, 'local', {
        content: 'Hello! My name is Ada.',
        messageId: 'm1',
        userId: 'ada',
      });
      await stack.offline.script([
        { model: 'claude-sonnet-5-5', lastUserContains: 'there', action: OVERLOADED },
        { lastUserContains: 'slowly', action: { kind: 'delay', ms: 3_000 } },
      ]);
      const fallback = await memoir.sendMessage(tenantId, 'local', { content: 'Are you there?', messageId: 'm2' });
      check(fallback.reply.model === 'claude-haiku-5-5', `expected the fallback model, got ${fallback.reply.model}`);
      await memoir.sendMessage(tenantId, 'local', { content: 'Answer slowly, please.', messageId: 'm3' });
      return { workflowId: conversationWorkflowId(tenantId, 'local') };
    },
  },
  {
    name: 'fallback',
    description: 'The primary model answers 529 on every attempt; the chain moves to claude-haiku-5-5.',
    async run({ stack, memoir, tenantId }) {
      await stack.offline.script([{ model: 'claude-sonnet-5-5', action: OVERLOADED }]);
      const turn = await memoir.sendMessage(tenantId, 'fallback', { content: 'Are you there?', messageId: 'm1' });
      check(turn.reply.model === 'claude-haiku-5-5', `expected the fallback model, got ${turn.reply.model}`);
      return { workflowId: conversationWorkflowId(tenantId, 'fallback') };
    },
  },
  {
    name: 'continue-as-new',
    description: 'MEMOIR_TURNS_PER_RUN=2: the first run answers two turns and ends in ContinueAsNew (captured).',
    env: { MEMOIR_TURNS_PER_RUN: '2' },
    async run({ memoir, client, tenantId }) {
      const workflowId = conversationWorkflowId(tenantId, 'long');
      for (const [i, content] of ['My colour is blue.', 'My boat is called Vela.'].entries()) {
        await memoir.sendMessage(tenantId, 'long', { content, messageId: `m${i + 1}` });
      }
      // The run that followed names the one it continued: that is the run to capture.
      const next = await until(async () => {
        const first = (await client.workflow.getHandle(workflowId).fetchHistory()).events?.[0];
        return first?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      }, 'the continued run');
      return { workflowId, runId: next };
    },
  },
  {
    name: 'degraded',
    description: 'Every model answers 529 (MEMOIR_MODEL_ATTEMPTS=1): the message is stored with a degraded reply.',
    env: { MEMOIR_MODEL_ATTEMPTS: '1' },
    async run({ stack, memoir, tenantId }) {
      await stack.offline.script([{ action: OVERLOADED }]);
      const turn = await memoir.sendMessage(tenantId, 'degraded', { content: 'Anyone?', messageId: 'm1' });
      check(turn.reply.degraded, 'expected a degraded reply');
      return { workflowId: conversationWorkflowId(tenantId, 'degraded') };
    },
  },
  {
    name: 'compaction',
    description:
      'Low thresholds: turns that trigger rolling compaction, fact extraction and indexing beside the replies.',
    env: { MEMOIR_COMPACT_AFTER_MESSAGES: '6', MEMOIR_RECENT_MESSAGES: '2', MEMOIR_FACTS_EVERY: '2' },
    async run({ memoir, tenantId }) {
      for (let i = 1; i <= 5; i++) {
        await memoir.sendMessage(tenantId, 'compaction', {
          content: `Turn ${i}: my favourite harbour is number ${i}.`,
          messageId: `m${i}`,
          userId: 'ada',
        });
      }
      await until(async () => {
        const s = await memoir.getState(tenantId, 'compaction');
        return !s.upkeepRunning && s.memory.summaryVersion !== null ? s : undefined;
      }, 'a compaction');
      return { workflowId: conversationWorkflowId(tenantId, 'compaction') };
    },
  },
  {
    name: 'tool-loop',
    description:
      'A conversation with tools: the offline model calls search_memory when asked about the past, then answers ' +
      'from its result (two model steps and a runTool activity in one turn).',
    env: { MEMOIR_TOOLS_MODULE: EXAMPLE_TOOLS },
    async run({ memoir, tenantId }) {
      await memoir.startConversation(tenantId, {
        conversationId: 'tools',
        userId: 'ada',
        tools: ['search_memory', 'current_time'],
      });
      await memoir.sendMessage(tenantId, 'tools', { content: 'My favourite colour is teal.', messageId: 'm1' });
      const turn = await memoir.sendMessage(tenantId, 'tools', {
        content: 'Do you remember what is my favourite colour?',
        messageId: 'm2',
      });
      check(turn.reply.content.includes('teal'), `expected an answer from search_memory, got ${turn.reply.content}`);
      return { workflowId: conversationWorkflowId(tenantId, 'tools') };
    },
  },
  {
    name: 'tool-approval',
    description:
      'A tool that needs approval: the turn waits for the approveToolCall update, then runs the call and answers.',
    env: { MEMOIR_TOOLS_MODULE: EXAMPLE_TOOLS },
    async run({ stack, memoir, client, tenantId }) {
      await memoir.startConversation(tenantId, {
        conversationId: 'approval',
        userId: 'ada',
        tools: ['create_reminder'],
      });
      await stack.offline.script([
        {
          afterToolResults: false,
          times: 1,
          action: {
            kind: 'tool_use',
            calls: [{ name: 'create_reminder', input: { text: 'call Bob', at: '2026-12-01T09:00:00Z' } }],
          },
        },
      ]);
      const reply = memoir.sendMessage(tenantId, 'approval', { content: 'Remind me to call Bob.', messageId: 'm1' });
      const handle = client.workflow.getHandle(conversationWorkflowId(tenantId, 'approval'));
      const pending = await until(async () => {
        const state = await handle.query(getStateQuery);
        return state.pendingApprovals?.[0];
      }, 'a pending approval');
      await handle.executeUpdate(approveToolCallUpdate, {
        args: [{ toolUseId: pending.toolUseId, by: 'ada', reason: 'yes please' }],
        updateId: 'approve-1',
      });
      const turn = await reply;
      check(
        turn.reply.content.includes('Reminder set'),
        `expected the approved call's result, got ${turn.reply.content}`,
      );
      return { workflowId: conversationWorkflowId(tenantId, 'approval') };
    },
  },
  {
    name: 'idle-fold-dropped',
    description:
      'A compaction held back by the summary model; the conversation goes quiet (an idle fold is asked for, pending) ' +
      'and the user comes back before it ends: the turn drops the pending fold (patch idle-fold-dropped-by-turn).',
    env: {
      MEMOIR_SUMMARY_MODEL: 'claude-haiku-5-5',
      MEMOIR_COMPACT_AFTER_MESSAGES: '4',
      MEMOIR_RECENT_MESSAGES: '2',
      MEMOIR_COMPACT_WHEN_IDLE: '3s',
      MEMOIR_FACTS_EVERY: '1000',
    },
    async run({ stack, memoir, client, tenantId }) {
      await stack.offline.script([{ model: 'claude-haiku-5-5', action: { kind: 'delay', ms: 5_000 } }]);
      const workflowId = conversationWorkflowId(tenantId, 'idle-fold');
      const scheduled = async (activity: string) =>
        ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity,
        ).length;
      for (let i = 1; i <= 3; i++) {
        const content = `Turn ${i}: I grow tomatoes.`;
        await memoir.sendMessage(tenantId, 'idle-fold', { content, messageId: `m${i}`, userId: 'ada' });
      }
      // Quiet for 3 s while the compaction runs: the idle upkeep extracts facts and leaves a fold pending.
      await until(async () => ((await scheduled('extractFacts')) > 0 ? true : undefined), 'the idle upkeep');
      await memoir.sendMessage(tenantId, 'idle-fold', { content: 'Turn 4: and basil.', messageId: 'm4' });
      check((await scheduled('compactHistory')) === 1, 'the user came back after the compaction had ended');
      await until(async () => {
        const s = await memoir.getState(tenantId, 'idle-fold');
        return !s.upkeepRunning && (await scheduled('compactHistory')) > 1 ? s : undefined;
      }, 'the compaction passes');
      return { workflowId };
    },
  },
  {
    name: 'first-task-split',
    description:
      'openConversation held past 80 % of the workflow task timeout (the SDK heartbeats the first task) while ' +
      "getState is polled and a second message arrives; the first task's patches are asked around that split.",
    async run({ memoir, client, tenantId, stack }) {
      const databaseUrl = stack.serving.services.config.databaseUrl!;
      const workflowId = await splitFirstTask({ memoir, client, databaseUrl, tenantId, conversationId: 'split' });
      return { workflowId };
    },
  },
  {
    name: 'queued-updates',
    description:
      'Three messages sent while the first turn is held in its model call: each is answered in turn, its update ' +
      'completing beside the next model call (patch update-answered-at-turn-end: before it, after that call).',
    async run({ stack, memoir, client, tenantId }) {
      await stack.offline.script([{ lastUserContains: 'first', action: { kind: 'hold', gate: 'queued' }, times: 1 }]);
      const workflowId = conversationWorkflowId(tenantId, 'queued');
      // Waits read the history, not getState: a query answered while the first workflow task runs its local
      // activity can push that activity's result into a later task, and a capture so made does not replay.
      const events = async () => (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const count = async (has: (e: Awaited<ReturnType<typeof events>>[number]) => unknown) =>
        (await events().catch(() => [])).filter(has).length;
      const first = memoir.sendMessage(tenantId, 'queued', {
        content: 'The first message.',
        messageId: 'm1',
        userId: 'ada',
      });
      await until(
        async () => ((await count((e) => e.activityTaskScheduledEventAttributes)) > 0 ? true : undefined),
        'the first turn runs',
      );
      const rest = [2, 3, 4].map((i) =>
        memoir.sendMessage(tenantId, 'queued', { content: `Message number ${i}.`, messageId: `m${i}` }),
      );
      await until(
        async () => ((await count((e) => e.workflowExecutionUpdateAcceptedEventAttributes)) === 4 ? true : undefined),
        'three messages queue',
      );
      await stack.offline.release('queued');
      const answers = await Promise.all([first, ...rest]);
      check(answers.map((a) => a.messageId).join() === 'm1,m2,m3,m4', 'each message answered with its own turn');
      return { workflowId };
    },
  },
  {
    name: 'overdue-signals',
    description:
      'MEMOIR_TURNS_PER_RUN=2: six messages signalled while the first turn is held, so the queue never empties; ' +
      'the run answers two and continues as new with the other four carried (patch signals-carried-when-due: ' +
      'before it, the run answered all six).',
    env: { MEMOIR_TURNS_PER_RUN: '2' },
    async run({ stack, memoir, client, tenantId }) {
      await stack.offline.script([{ lastUserContains: '[s1]', action: { kind: 'hold', gate: 'overdue' }, times: 1 }]);
      const workflowId = conversationWorkflowId(tenantId, 'flood');
      const events = async () => (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const post = (i: number) =>
        memoir.postMessage(tenantId, 'flood', { content: `[s${i}] A note.`, messageId: `s${i}`, userId: 'ada' });
      await post(1);
      const firstRun = (await client.workflow.getHandle(workflowId).describe()).runId;
      for (let i = 2; i <= 6; i++) await post(i);
      await until(
        async () =>
          (await events().catch(() => [])).filter((e) => e.workflowExecutionSignaledEventAttributes).length === 6
            ? true
            : undefined,
        'all six messages queue',
      );
      await stack.offline.release('overdue');
      const continued = await until(async () => {
        const all = await client.workflow.getHandle(workflowId, firstRun).fetchHistory();
        return all.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes) ? true : undefined;
      }, 'the first run continues as new');
      check(continued, 'the first run continued as new');
      return { workflowId, runId: firstRun };
    },
  },
];

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`scenario check failed: ${message}`);
}

function gitCommit(): { commit: string; dirty: boolean } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', 'workflows').length > 0 };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

/** Renames `<name>.json` and its meta to `<name>.<commit>.json` so the replay tests keep replaying it. */
function keepPrevious(name: string): void {
  const metaFile = path.join(OUT_DIR, `${name}.meta.json`);
  if (!fs.existsSync(metaFile)) return;
  const commit = (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { git?: { commit?: string } }).git?.commit;
  const tag = (commit ?? 'old').slice(0, 7);
  for (const suffix of ['.json', '.meta.json']) {
    const target = path.join(OUT_DIR, `${name}.${tag}${suffix}`);
    if (!fs.existsSync(target)) fs.renameSync(path.join(OUT_DIR, `${name}${suffix}`), target);
  }
}

async function capture(scenario: Scenario, workflowBundle: { code: string }): Promise<void> {
  const stack = await startReplayStack({ env: scenario.env ?? {}, workflowSource: { workflowBundle } });
  try {
    const { memoir, temporal } = stack.serving.services;
    const target = await scenario.run({ stack, memoir, client: temporal.client, tenantId: stack.tenantId });
    const history = await settledHistory(temporal.client, target.workflowId, target.runId);
    const events = history.events ?? [];
    fs.writeFileSync(path.join(OUT_DIR, `${scenario.name}.json`), `${historyJson(history)}\n`);
    const meta = {
      scenario: scenario.name,
      description: scenario.description,
      capturedAt: new Date().toISOString(),
      git: gitCommit(),
      workflowType: 'conversationWorkflow',
      workflowId: target.workflowId,
      env: scenario.env ?? {},
      events: events.length,
      lastEvent: events.length > 0 ? eventTypeName(events.at(-1)!) : null,
    };
    fs.writeFileSync(path.join(OUT_DIR, `${scenario.name}.meta.json`), `${JSON.stringify(meta, null, 2)}\n`);
    process.stdout.write(`captured ${scenario.name}: ${events.length} events, ends with ${meta.lastEvent}\n`);
  } finally {
    await stack.stop();
  }
}

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const keepOld = args.includes('--keep-old');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  // One bundle of the current workflow code for every scenario: the histories record what this code does.
  const code = await bundleWorkflows();
  for (const scenario of SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
    if (keepOld) keepPrevious(scenario.name);
    await capture(scenario, { code });
  }
}

run()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`capture-histories: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
