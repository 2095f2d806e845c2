#!/usr/bin/env bash
# Finds weaviate-server ($WEAVIATE_SERVER, PATH, $GOPATH/bin), building it with Go when there is none. Prints its path.
source "$(dirname "$0")/lib.sh"
go_tool weaviate-server github.com/weaviate/weaviate/cmd/weaviate-server v1.35.2 "${WEAVIATE_SERVER:-}" WEAVIATE_SERVER
