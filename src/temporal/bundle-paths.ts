/**
 * Where the workflow code is, from the sources or from the compiled output, and where `npm run build` puts the
 * prebuilt bundles. No imports beyond node:path, so tests and the worker can ask without loading the bundler.
 */
import path from 'node:path';

/** `.js` when this runs from the compiled output in dist/, `.ts` from the sources (tsx, vitest). */
export const RUNNING_COMPILED = path.extname(__filename) === '.js';

export const WORKFLOWS_ENTRY = path.join(__dirname, '..', '..', 'workflows', `index${path.extname(__filename)}`);

/** dist/ of this checkout or installed package, seen from the sources or from the compiled output. */
const DIST = RUNNING_COMPILED ? path.join(__dirname, '..', '..') : path.join(__dirname, '..', '..', 'dist');

/**
 * Two bundles, because the failure converter is compiled into a bundle: with payload encryption on, failure
 * messages must go through the codec (src/codec/failure-converter.ts); without it they stay plain.
 */
export type BundleVariant = 'plain' | 'encrypted';

export function prebuiltBundlePath(variant: BundleVariant): string {
  return path.join(DIST, 'workflow-bundles', `${variant}.js`);
}
