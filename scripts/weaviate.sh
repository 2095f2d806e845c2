#!/usr/bin/env bash
# Finds weaviate-server, building it with Go when there is none. Prints its path on stdout.
source "$(dirname "$0")/lib.sh"
VERSION=v1.35.2
gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
for candidate in "${WEAVIATE_SERVER:-}" "$(command -v weaviate-server || true)" "$gobin/weaviate-server"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
command -v go >/dev/null || die "no weaviate-server and no Go to build it (set WEAVIATE_SERVER)"
say "Building weaviate-server $VERSION with Go (first time only; several minutes on 2 cores)"
GOFLAGS=-buildvcs=false go install -v "github.com/weaviate/weaviate/cmd/weaviate-server@$VERSION" 2>&1 \
  | awk '{ n++; if (n % 50 == 0) { printf "   … %d packages compiled\n", n > "/dev/stderr" } }'
[ -x "$gobin/weaviate-server" ] || die "go install of weaviate-server $VERSION failed"
echo "$gobin/weaviate-server"
