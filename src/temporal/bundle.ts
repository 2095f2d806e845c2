/**
 * The workflow code bundled once: `npm run build` writes the bundles a worker loads (dist/workflow-bundles/), and
 * tests, benchmarks and history captures share one bundle instead of each worker bundling its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec';
import { prebuiltBundlePath, WORKFLOWS_ENTRY, type BundleVariant } from './bundle-paths';

export { WORKFLOWS_ENTRY } from './bundle-paths';

export async function bundleWorkflows(extra: { failureConverterPath?: string } = {}): Promise<string> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    ...extra,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  return code;
}

/** Bundles one variant and writes it where workers and the replay tests load it from; returns the path. */
export async function writePrebuiltBundle(variant: BundleVariant): Promise<string> {
  const code = await bundleWorkflows(variant === 'encrypted' ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {});
  const file = prebuiltBundlePath(variant);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written aside and renamed, so a worker starting meanwhile never reads half a bundle.
  fs.writeFileSync(`${file}.tmp`, code);
  fs.renameSync(`${file}.tmp`, file);
  return file;
}
