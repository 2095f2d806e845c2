#!/bin/sh
# Registers Memoir's search attributes on a Temporal server (used by docker-compose's admin-tools container; works
# anywhere the `temporal` CLI can reach the server). Idempotent: existing attributes are left alone.
set -eu
here=$(dirname "$0")
address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
existing=$(temporal operator search-attribute list --address "$address" --namespace "$namespace" 2>/dev/null || true)
# search-attributes.json is flat: one "Name": "Type" pair per line.
grep -o '"[A-Za-z]*": *"[A-Za-z]*"' "$here/search-attributes.json" | tr -d '" ' | while IFS=: read -r name type; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --address "$address" --namespace "$namespace" --name "$name" --type "$type"
  fi
done
