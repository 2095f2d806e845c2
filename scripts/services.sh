#!/usr/bin/env bash
# The services tests and benchmarks use, on loopback, on ports of their own so they never meet a user's:
#   PostgreSQL 15 :55432 · Redis :56379 · Weaviate :58080 (gRPC :50151) · Temporal dev server :57233 (UI :58233)
# Usage: services.sh start | stop | status | env          (idempotent; data under .data/services)
source "$(dirname "$0")/lib.sh"
S=$DATA/services
PG_PORT=55432 REDIS_PORT=56379 WEAVIATE_PORT=58080 WEAVIATE_GRPC=50151 TEMPORAL_PORT=57233 TEMPORAL_UI=58233
PG_BIN=/usr/lib/postgresql/15/bin

env_lines() {
  cat <<ENV
export TEST_DATABASE_URL=postgres://memoir@127.0.0.1:$PG_PORT/postgres
export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export TEST_WEAVIATE_HOST=127.0.0.1 TEST_WEAVIATE_PORT=$WEAVIATE_PORT TEST_WEAVIATE_GRPC_PORT=$WEAVIATE_GRPC
export TEST_TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT TEST_TEMPORAL_UI=http://127.0.0.1:$TEMPORAL_UI
ENV
}

# Runs a command as the owner of the PostgreSQL data directory (initdb refuses root).
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() {
  port_open $PG_PORT && return 0
  apt_install postgresql-15
  mkdir -p "$S"
  if [ ! -f "$S/pg/PG_VERSION" ]; then
    mkdir -p "$S/pg"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$S/pg"
    pg_as "$PG_BIN/initdb" -D "$S/pg" -U memoir --auth=trust -E UTF8 >/dev/null
  fi
  say "Starting PostgreSQL 15 on 127.0.0.1:$PG_PORT"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$S/pg" && chmod 755 "$S" "$DATA"
  pg_as "$PG_BIN/pg_ctl" -D "$S/pg" -l "$S/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp -c max_connections=300 -c fsync=off" start >/dev/null
}

start_redis() {
  port_open $REDIS_PORT && return 0
  apt_install redis-server
  mkdir -p "$S/redis"
  say "Starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port $REDIS_PORT --dir "$S/redis" --save '' --appendonly no --daemonize yes \
    --pidfile "$S/redis/redis.pid" --logfile "$S/redis/redis.log"
  wait_port $REDIS_PORT Redis
}

start_weaviate() {
  port_open $WEAVIATE_PORT && return 0
  local bin; bin=$("$ROOT/scripts/weaviate.sh")
  mkdir -p "$S/weaviate"
  say "Starting Weaviate on 127.0.0.1:$WEAVIATE_PORT (gRPC $WEAVIATE_GRPC)"
  PERSISTENCE_DATA_PATH="$S/weaviate" AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true DEFAULT_VECTORIZER_MODULE=none \
  ENABLE_MODULES='' CLUSTER_HOSTNAME=node1 CLUSTER_ADVERTISE_ADDR=127.0.0.1 CLUSTER_GOSSIP_BIND_PORT=57946 \
  CLUSTER_DATA_BIND_PORT=57947 RAFT_PORT=58300 RAFT_INTERNAL_RPC_PORT=58301 RAFT_JOIN=node1 RAFT_BOOTSTRAP_EXPECT=1 \
  GRPC_PORT=$WEAVIATE_GRPC DISABLE_TELEMETRY=true LOG_LEVEL=warning QUERY_DEFAULTS_LIMIT=25 PROMETHEUS_MONITORING_ENABLED=false \
    nohup "$bin" --host 127.0.0.1 --port $WEAVIATE_PORT --scheme http >"$S/weaviate/server.log" 2>&1 &
  echo $! > "$S/weaviate/pid"
  wait_port $WEAVIATE_PORT Weaviate 240
  for _ in $(seq 120); do
    curl -fsS "http://127.0.0.1:$WEAVIATE_PORT/v1/.well-known/ready" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "Weaviate is listening but not ready; see $S/weaviate/server.log"
}

start_temporal() {
  port_open $TEMPORAL_PORT && return 0
  local cli; cli=$("$ROOT/scripts/temporal-cli.sh")
  mkdir -p "$S/temporal"
  local flags=()
  while IFS= read -r line; do flags+=("$line"); done < <(cd "$ROOT" && node -e "
    const attrs = require('./temporal-config/search-attributes.json');
    const dyn = require('./temporal-config/dev-server.json').dynamicConfig;
    for (const [k, t] of Object.entries(attrs)) console.log('--search-attribute\n' + k + '=' + t);
    for (const [k, v] of Object.entries(dyn)) console.log('--dynamic-config-value\n' + k + '=' + JSON.stringify(v));")
  say "Starting the Temporal dev server for tests on 127.0.0.1:$TEMPORAL_PORT (UI $TEMPORAL_UI)"
  # Tests with worker versioning on make a worker deployment each (a unique task queue per test), and the server
  # keeps at most 100 per namespace by default: this long-lived server gets room for many runs.
  flags+=(--dynamic-config-value matching.maxDeployments=100000)
  nohup "$cli" server start-dev --ip 127.0.0.1 --port $TEMPORAL_PORT --ui-port $TEMPORAL_UI --log-level warn \
    "${flags[@]}" >"$S/temporal/server.log" 2>&1 &
  echo $! > "$S/temporal/pid"
  wait_port $TEMPORAL_PORT "Temporal dev server" 120
}

stop_all() {
  [ -f "$S/temporal/pid" ] && kill "$(cat "$S/temporal/pid")" 2>/dev/null; rm -f "$S/temporal/pid"
  [ -f "$S/weaviate/pid" ] && kill "$(cat "$S/weaviate/pid")" 2>/dev/null; rm -f "$S/weaviate/pid"
  [ -f "$S/redis/redis.pid" ] && kill "$(cat "$S/redis/redis.pid")" 2>/dev/null
  [ -f "$S/pg/postmaster.pid" ] && pg_as "$PG_BIN/pg_ctl" -D "$S/pg" -m fast stop >/dev/null 2>&1
  true
}

case "${1:-start}" in
  start)
    # The two Go builds are the slow part of a first run: do them side by side.
    "$ROOT/scripts/temporal-cli.sh" >/dev/null & t=$!
    "$ROOT/scripts/weaviate.sh" >/dev/null & w=$!
    wait $t || die "could not get the Temporal CLI"; wait $w || die "could not get weaviate-server"
    start_postgres; start_redis; start_temporal; start_weaviate
    say "Services are up" ;;
  stop) stop_all ;;
  status)
    for p in $PG_PORT:PostgreSQL $REDIS_PORT:Redis $WEAVIATE_PORT:Weaviate $TEMPORAL_PORT:Temporal; do
      port_open "${p%%:*}" && echo "up   ${p#*:} :${p%%:*}" || echo "down ${p#*:} :${p%%:*}"
    done ;;
  env) env_lines ;;
  *) die "usage: $0 start|stop|status|env" ;;
esac
