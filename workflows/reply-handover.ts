/**
 * Local first, handed over when long (MEMOIR_MODEL_CALL=local, patch `model-call-handover`): the model call runs as
 * a local activity in the workflow task that accepted the message; a call still running after 1.5 s
 * (activities/reply-handover.ts) goes on in the worker and is adopted by a regular generateReply activity, so a
 * long reply neither keeps the workflow task open (no task heartbeats in history) nor hides from the UI.
 */
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { GenerateReplyCall, StoredReply } from '../activities/generate-reply';
import type { HandedOver } from '../activities/reply-handover';

/**
 * Runs with this marker (and LOCAL_MODEL_CALL_PATCH's) call `replyOrHandOver` locally and adopt a long call with
 * generateReply; runs with LOCAL_MODEL_CALL_PATCH alone keep the whole call in the workflow task.
 */
export const MODEL_CALL_HANDOVER_PATCH = 'model-call-handover';

const { generateReply } = proxyActivities<Activities>({ startToCloseTimeout: '60s' });
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '60s' });

/** The chain's options for one call, as for the activity mode (heartbeat timeout included). */
export type CallOptions = ActivityOptions & Required<Pick<ActivityOptions, 'retry' | 'heartbeatTimeout'>>;

/**
 * The call's reply: from the local activity when it answered in time, else from the generateReply activity that
 * adopts it. `adopterOptions` gives the adopter's deadlines as they stand once the hand-over is known.
 */
export async function replyLocalFirst(
  call: GenerateReplyCall,
  localOptions: Omit<CallOptions, 'heartbeatTimeout'>,
  adopterOptions: () => CallOptions,
): Promise<StoredReply> {
  const first = await local.replyOrHandOver.executeWithOptions(localOptions, [call]);
  if (!isHandedOver(first)) return first;
  const options = adopterOptions();
  const { maximumAttempts } = options.retry;
  return await generateReply.executeWithOptions(
    {
      ...options,
      // The local attempt it adopts is one of the model's attempts: the same budget in all.
      retry: {
        ...options.retry,
        ...(maximumAttempts ? { maximumAttempts: Math.max(1, maximumAttempts - (first.attempt - 1)) } : {}),
      },
      ...(options.summary ? { summary: `${options.summary} · handed over` } : {}),
    },
    // A fresh call (the adopted one is not on this worker) takes the manifest the local call saved, if it did.
    [{ ...call, adopt: first.handedOver, ...(call.assemble ? { assemble: 'again' as const } : {}) }],
  );
}

const isHandedOver = (r: StoredReply | HandedOver): r is HandedOver => 'handedOver' in r;
