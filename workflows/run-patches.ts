/**
 * Every patch a run may ask, asked once before the run's first await (runs with PATCHES_AT_RUN_START_PATCH).
 *
 * `patched()` on replay answers from the patch markers Core has seen so far, and Core looks only as far ahead as
 * the end of the workflow task being replayed. A patch first asked by code that runs when a local activity's
 * result comes in is not at a fixed place relative to history: Core records the local activity's marker in the
 * task that was open when the result came, and may complete that task before the code has seen the result (to
 * send a query's answer it forces a new task), so the code's commands — the patch marker with them — land in the
 * next task. Replaying, the code sees the result in the first of the two tasks, asks the patch before Core knows
 * its marker, gets `false`, and the run fails with "patch marker … but no corresponding change command".
 * Asked before the first await, a patch's marker is always in the run's first task.
 *
 * A true answer is kept by the SDK for the run: the later asks at each patch's own place answer the same without
 * a second marker. Runs recorded before this marker ask each patch at its own place, as they did.
 */
import { patched } from '@temporalio/workflow';
import { IDLE_FOLD_DROPPED_BY_TURN_PATCH, INDEX_IN_BATCHES_PATCH } from './background';
import { IDLE_TIMER_KEPT_PATCH, IDLE_TIMER_REARM_PATCH } from './idle-timer';
import { LOCAL_MODEL_CALL_PATCH } from './model-chain';
import { MODEL_CALL_HANDOVER_PATCH } from './reply-handover';
import { CHANGED_ONLY_PATCH, HASHED_USER_ID_PATCH } from './state';
import { TOOL_LOOP_PATCH } from './tool-loop';
import {
  CONTEXT_IN_MODEL_CALL_PATCH,
  LOCAL_TURN_STEPS_PATCH,
  MESSAGE_BY_REFERENCE_PATCH,
  PERSIST_IN_MODEL_CALL_PATCH,
} from './turn';

export const PATCHES_AT_RUN_START_PATCH = 'patches-asked-at-run-start';

/** Patches of every run, in the order their markers are recorded (a fixed order: replay compares it). */
const EVERY_RUN = [
  LOCAL_TURN_STEPS_PATCH,
  HASHED_USER_ID_PATCH,
  CHANGED_ONLY_PATCH,
  IDLE_TIMER_KEPT_PATCH,
  IDLE_TIMER_REARM_PATCH,
  MESSAGE_BY_REFERENCE_PATCH,
  PERSIST_IN_MODEL_CALL_PATCH,
  CONTEXT_IN_MODEL_CALL_PATCH,
  INDEX_IN_BATCHES_PATCH,
  IDLE_FOLD_DROPPED_BY_TURN_PATCH,
  // Asked in every run, not only where they apply: a run's tools and model-call policy can be learnt after its
  // first await (openConversation, readPolicy), and a marker of a path not taken changes nothing.
  LOCAL_MODEL_CALL_PATCH,
  TOOL_LOOP_PATCH,
  // Last: added after the list was first recorded. A patch missing from a recorded list answers false on replay
  // and adds no command, so its place only matters to runs recorded with it.
  MODEL_CALL_HANDOVER_PATCH,
];

/**
 * Asks the run's patches now; call it synchronously at the start of the run, before any await. `own`: patches
 * declared by the workflow itself, asked after these. Returns those answered true: a patch that must never be
 * asked at its own place (see FACTS_AND_INDEX_TOGETHER_PATCH) is read from here.
 */
export function askPatchesAtRunStart(own: string[]): ReadonlySet<string> {
  if (!patched(PATCHES_AT_RUN_START_PATCH)) return new Set();
  return new Set([...EVERY_RUN, ...own].filter((id) => patched(id)));
}
