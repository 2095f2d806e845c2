/**
 * The probe workflow of scripts/check-temporal-config.ts: no-op activities one after another, so that its history
 * shows how long the server takes to hand out each workflow task and activity.
 */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function probeWorkflow(activities: number): Promise<void> {
  for (let i = 0; i < activities; i++) await noop();
}
