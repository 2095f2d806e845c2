#!/usr/bin/env bash
# Checks the package as it would be published: `npm pack` of dist/ (scripts/setup.sh builds it), installed into an
# empty directory the way a user would, then the installed `memoir` command runs, the library entry point loads,
# the prebuilt workflow bundles are in it and no TypeScript tool chain came along. About 40 s, most of it
# `npm install` (from the npm cache when it can).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ -f dist/build-info.json ] || die "dist/ is missing: run \`npm run build\` (make setup does)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$tmp")
mkdir "$tmp/app"
cd "$tmp/app"
echo '{ "name": "memoir-pack-check", "private": true }' >package.json
npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tmp/$tarball" >/dev/null

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
say "npm pack: $tarball installs, \`memoir --help\` runs, require('memoir') loads"
