#!/usr/bin/env bash
# Checks both packages as they would be published: `npm pack` of the server (dist/) and of the client
# (packages/client/dist; scripts/setup.sh builds both), each installed into an empty directory the way a user
# would. The server: its `memoir` command runs, its library entry point loads, the prebuilt workflow bundles are in
# it and no TypeScript tool chain came along. The client: `import` and `require` both load it, its installed
# dependency tree holds no server package, and it carries one message through the packed server's `memoir serve`
# (on free ports, against the test services) and gets the reply. About 50 s, most of it `npm install` (from the
# npm cache when it can).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ -f dist/build-info.json ] || die "dist/ is missing: run \`npm run build\` (make setup does)"
[ -f packages/client/dist/index.cjs ] || die "packages/client/dist is missing: run \`npm run build\` (make setup does)"

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
install_into() { # <dir> <tarball>: a fresh app that installs the tarball
  mkdir "$1"
  echo '{ "name": "memoir-pack-check", "private": true }' >"$1/package.json"
  (cd "$1" && npm install --prefer-offline --no-audit --no-fund --loglevel=error "$2" >/dev/null)
}

# The server package.
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$tmp")
install_into "$tmp/app" "$tmp/$tarball"
cd "$tmp/app"
installed=node_modules/memoir
./node_modules/.bin/memoir --help | grep -q '^Usage: memoir' || die "the installed \`memoir --help\` did not print its usage"
node -e "const m = require('memoir'); if (typeof m.MemoirClient !== 'function') process.exit(1)" \
  || die "require('memoir') does not export MemoirClient"
for bundle in plain encrypted; do
  [ -s "$installed/dist/workflow-bundles/$bundle.js" ] || die "the package has no prebuilt $bundle workflow bundle"
done
[ -f "$installed/dist/src/storage/migrations/001_conversations.sql" ] || die "the package has no SQL migrations"
[ -f "$installed/dist/temporal-config/search-attributes.json" ] || die "the package has no temporal-config/"
[ ! -e node_modules/tsx ] && [ ! -e node_modules/typescript ] || die "tsx or typescript came with a production install"
say "npm pack: $tarball installs, \`memoir --help\` runs, require('memoir') loads (${SECONDS} s)"

# The client package.
cd "$ROOT"
client_tarball=$(npm pack ./packages/client --ignore-scripts --silent --pack-destination "$tmp")
install_into "$tmp/client-app" "$tmp/$client_tarball"
cd "$tmp/client-app"
node -e "const m = require('@memoir/client'); if (typeof m.MemoirClient !== 'function') process.exit(1)" \
  || die "require('@memoir/client') does not export MemoirClient"
node --input-type=module -e "import { MemoirClient, connectMemoirClient } from '@memoir/client';
  if (typeof MemoirClient !== 'function' || typeof connectMemoirClient !== 'function') process.exit(1);" \
  || die "import from '@memoir/client' does not give MemoirClient and connectMemoirClient"
# Server packages must never come with the client (they are heavy, native, or both).
server_deps='memoir|@electric-sql/[a-z-]+|weaviate-client|fastify|pg|ioredis|@anthropic-ai/sdk|@temporalio/worker|pino|prom-client'
tree=$(npm ls --all --parseable 2>/dev/null | sed -n 's#.*/node_modules/##p')
if found=$(grep -xE "$server_deps" <<<"$tree"); then die "@memoir/client pulls in server packages: $found"; fi
say "npm pack: $client_tarball installs, import and require load it, $(wc -l <<<"$tree") packages, none of the server's (${SECONDS} s)"

# The packed client talks to the packed server's `memoir serve`: plaintext payloads (a Temporal-only client has
# no keys), its own task queue and data directory, free ports.
temporal=${TEST_TEMPORAL_ADDRESS:-127.0.0.1:57233}
port_open "${temporal##*:}" || die "no Temporal at $temporal: run scripts/services.sh start"
queue="pack-check-$$-$RANDOM"
mkdir "$tmp/data"
TEMPORAL_ADDRESS=$temporal DATABASE_URL=${TEST_DATABASE_URL:-postgres://memoir@127.0.0.1:55432/postgres} \
  MEMOIR_PAYLOAD_ENCRYPTION=off MEMOIR_TASK_QUEUE=$queue MEMOIR_DATA_DIR="$tmp/data" MEMOIR_API_PORT=0 \
  MEMOIR_METRICS_PORT=0 MEMOIR_LOG_LEVEL=info \
  "$tmp/app/node_modules/.bin/memoir" serve >"$tmp/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 600); do
  grep -q 'memoir is running' "$tmp/serve.log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "the packed \`memoir serve\` exited before running"; }
  sleep 0.1
done
grep -q 'memoir is running' "$tmp/serve.log" || { cat "$tmp/serve.log" >&2; die "the packed \`memoir serve\` did not start in 60 s"; }
say "npm pack: the packed \`memoir serve\` is running (${SECONDS} s)"
TEMPORAL_ADDRESS=$temporal MEMOIR_TASK_QUEUE=$queue node -e "
  const { connectMemoirClient } = require('@memoir/client');
  (async () => {
    const { memoir, close } = await connectMemoirClient();
    try {
      const turn = await memoir.sendMessage('pack-check', 'c-' + Date.now(), { content: 'Hello from the packed client', userId: 'ada' }, { waitMs: 30000 });
      if (!turn.reply.content.includes('Hello from the packed client')) throw new Error('unexpected reply: ' + turn.reply.content);
    } finally {
      await close();
    }
  })().catch((err) => { console.error(err); process.exit(1); });
" || { cat "$tmp/serve.log" >&2; die "the packed client got no reply from the packed \`memoir serve\`"; }
say "npm pack: the packed client sent a message through the packed \`memoir serve\` and got its reply (${SECONDS} s)"
