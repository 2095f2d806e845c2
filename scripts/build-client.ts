/**
 * Builds the client package (packages/client, `@memoir/client`) from the server's client code: one ESM and one
 * CommonJS bundle (esbuild; the package's dependencies stay imports) and type declarations (tsc). The build fails
 * when anything outside the client's own sources would be bundled, so a server module imported by the client
 * code (storage, memory, HTTP: PGlite, pg, Fastify, …) is caught here rather than by its users.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';

const ROOT = path.join(__dirname, '..');
const PKG = path.join(ROOT, 'packages', 'client');
const DIST = path.join(PKG, 'dist');

/** Source files the client may be built from: its own code and the pure workflow contract it shares. */
const ALLOWED_SOURCES = [
  /^packages\/client\/src\//,
  /^src\/client\//,
  /^src\/model\/failure-types\.ts$/,
  /^workflows\/(contract|validate|search-attributes)\.ts$/,
];

function declarations(): void {
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'packages/client/tsconfig.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) throw new Error(`tsc (client declarations) failed (exit ${tsc.status ?? tsc.signal})`);
  // One entry for both formats: the declarations describe both bundles alike.
  fs.writeFileSync(path.join(DIST, 'index.d.ts'), "export * from './types/packages/client/src/index';\n");
}

function checkInputs(metafile: Metafile): void {
  const foreign = Object.keys(metafile.inputs).filter((input) => !ALLOWED_SOURCES.some((ok) => ok.test(input)));
  if (foreign.length > 0)
    throw new Error(`the client package would bundle code that is not the client's: ${foreign.join(', ')}`);
}

export async function buildClientPackage(): Promise<string[]> {
  fs.rmSync(DIST, { recursive: true, force: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const outputs: string[] = [];
  for (const [format, file] of [
    ['esm', 'index.mjs'],
    ['cjs', 'index.cjs'],
  ] as const) {
    const outfile = path.join(DIST, file);
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: ['packages/client/src/index.ts'],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format,
      external: Object.keys(pkg.dependencies),
      metafile: true,
      sourcemap: true,
      logLevel: 'warning',
    });
    checkInputs(result.metafile);
    outputs.push(path.relative(ROOT, outfile));
  }
  declarations();
  return outputs;
}

if (require.main === module) {
  buildClientPackage()
    .then((outputs) => process.stderr.write(`build-client: ${outputs.join(', ')}\n`))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
