#!/usr/bin/env bash
# Finds the Temporal CLI (dev server + Web UI), building it with Go when there is none. Prints its path.
# Order: $TEMPORAL_CLI, `temporal` on PATH, $GOPATH/bin/temporal, then `go install` of v1.5.1 — later tags carry a
# `replace` directive that `go install` refuses.
source "$(dirname "$0")/lib.sh"
go_tool temporal github.com/temporalio/cli/cmd/temporal v1.5.1 "${TEMPORAL_CLI:-}" TEMPORAL_CLI
