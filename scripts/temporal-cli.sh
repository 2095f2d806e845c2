#!/usr/bin/env bash
# Finds the Temporal CLI (dev server + Web UI), building it with Go when there is none.
# Order: $TEMPORAL_CLI, `temporal` on PATH, $GOPATH/bin/temporal, then `go install` of v1.5.1 (later tags carry a
# `replace` directive that `go install` refuses). Prints the binary's path on stdout.
source "$(dirname "$0")/lib.sh"
VERSION=v1.5.1
gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
for candidate in "${TEMPORAL_CLI:-}" "$(command -v temporal || true)" "$gobin/temporal"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
command -v go >/dev/null || die "no Temporal CLI and no Go to build it: install it (https://docs.temporal.io/cli) or set TEMPORAL_CLI"
say "Building the Temporal CLI $VERSION with Go (first time only; several minutes on 2 cores)"
GOFLAGS=-buildvcs=false go install -v "github.com/temporalio/cli/cmd/temporal@$VERSION" 2>&1 \
  | awk '{ n++; if (n % 25 == 0) { printf "   … %d packages compiled\n", n > "/dev/stderr" } }'
[ -x "$gobin/temporal" ] || die "go install of the Temporal CLI $VERSION failed"
echo "$gobin/temporal"
