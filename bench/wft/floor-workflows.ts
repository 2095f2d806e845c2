/**
 * The workflow bundle of bench/wft/activation-cost.ts: Memoir's workflows and, beside them, the SDK's floor for a
 * turn — one update whose handler runs one eager activity and answers, or one local activity (the floor of
 * MEMOIR_MODEL_CALL=local) — so all run on the same worker options.
 */
import { condition, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import { sendMessageUpdate } from '../../workflows/contract';
import type { FloorActivities } from './stub-activities';

export * from '../../workflows';

const { generateReply } = proxyActivities<FloorActivities>({ startToCloseTimeout: '60s' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '60s' });

export async function floorWorkflow(): Promise<void> {
  setHandler(sendMessageUpdate, async (msg) => {
    await generateReply({ messageId: msg.messageId ?? '', turn: 0, model: 'floor' });
    return { stored: true as const };
  });
  await condition(() => false);
}

export async function floorLocalWorkflow(): Promise<void> {
  setHandler(sendMessageUpdate, async (msg) => {
    await local.generateReply({ messageId: msg.messageId ?? '', turn: 0, model: 'floor' });
    return { stored: true as const };
  });
  await condition(() => false);
}
