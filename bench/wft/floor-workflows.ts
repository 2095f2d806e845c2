/**
 * The workflow bundle of bench/wft/activation-cost.ts: Memoir's workflows and, beside them, the SDK's floor for a
 * turn — one update whose handler runs one eager activity and answers — so both run on the same worker options.
 */
import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import { sendMessageUpdate } from '../../workflows/contract';
import type { FloorActivities } from './stub-activities';

export * from '../../workflows';

const { generateReply } = proxyActivities<FloorActivities>({ startToCloseTimeout: '60s' });

export async function floorWorkflow(): Promise<void> {
  setHandler(sendMessageUpdate, async (msg) => {
    await generateReply({ messageId: msg.messageId ?? '', turn: 0, model: 'floor' });
    return { stored: true as const };
  });
  await condition(() => false);
}
