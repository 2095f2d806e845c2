/**
 * `npm run build`: compiles src/, workflows/ and activities/ to dist/ (CommonJS with type declarations), copies
 * what the compiled code reads at run time (SQL migrations, temporal-config/*.json), and bundles the workflow
 * code once into dist/workflow-bundles/, the bundle workers load and the replay tests run against, and builds the
 * client package (packages/client/dist, scripts/build-client.ts).
 * Last, dist/build-info.json: the build ids of the bundles (their workers' deployment versions) and the stamp
 * scripts/setup.sh compares with the sources to rebuild when stale.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writePrebuiltBundle } from '../src/temporal/bundle';
import { bundleBuildId } from '../src/temporal/deployment';
import { buildClientPackage } from './build-client';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

function step(message: string): void {
  process.stderr.write(`build: ${message}\n`);
}

/** Run-time files that are not TypeScript, at the same place relative to the code that reads them. */
const ASSETS: { from: string; filter: (name: string) => boolean }[] = [
  { from: 'src/storage/migrations', filter: (n) => n.endsWith('.sql') },
  { from: 'temporal-config', filter: (n) => n.endsWith('.json') },
];

async function main(): Promise<void> {
  const started = Date.now();
  fs.rmSync(DIST, { recursive: true, force: true });

  step('compiling TypeScript (tsconfig.build.json)');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);

  for (const { from, filter } of ASSETS) {
    const target = path.join(DIST, from);
    fs.mkdirSync(target, { recursive: true });
    for (const name of fs.readdirSync(path.join(ROOT, from)).filter(filter))
      fs.copyFileSync(path.join(ROOT, from, name), path.join(target, name));
  }

  step('bundling the workflow code');
  const bundles = [await writePrebuiltBundle('plain'), await writePrebuiltBundle('encrypted')];

  step('building the client package (packages/client)');
  const client = await buildClientPackage();

  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  // The build id each bundle's workers poll as (Worker Deployment Versioning): the hash of the bundle, so the same
  // workflow code is the same version however often it is rebuilt or restarted.
  const buildIds = Object.fromEntries(
    (['plain', 'encrypted'] as const).map((variant, i) => [variant, bundleBuildId(fs.readFileSync(bundles[i]!))]),
  );
  const info = { version: pkg.version, builtAt: new Date().toISOString(), buildIds };
  fs.writeFileSync(path.join(DIST, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
  step(
    `done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${[...bundles.map((b) => path.relative(ROOT, b)), ...client].join(', ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
