/**
 * The workflow code bundled once (tests, benchmarks, history captures share one bundle instead of each worker
 * bundling its own), with the bundler's chatter kept out of the output.
 */
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOWS_ENTRY = path.join(__dirname, '..', '..', 'workflows', 'index.ts');

export async function bundleWorkflows(extra: { failureConverterPath?: string } = {}): Promise<string> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    ...extra,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  return code;
}
