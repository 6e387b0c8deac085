#!/usr/bin/env bash
# Start or stop the throwaway PostgreSQL 15 and Redis servers the tests use, on loopback.
#   scripts/services.sh start   -> writes var/services.env (DATABASE_URL, REDIS_URL)
#   scripts/services.sh stop
# Installs the Debian packages the tests need (servers, Chromium) when they are missing
# (CI runs on a fresh machine).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${MIGRATOR_SERVICES_DIR:-/tmp/migrator-services}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${MIGRATOR_PG_PORT:-54329}"
REDIS_PORT="${MIGRATOR_REDIS_PORT:-63799}"
# Tests run with fsync off (speed); benchmarks with fsync on, as production runs.
PG_FSYNC="${MIGRATOR_PG_FSYNC:-off}"
ENV_FILE="$ROOT/var/services.env"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_missing() {
  local need=()
  [ -x "$PG_BIN/pg_ctl" ] || need+=(postgresql-15)
  command -v redis-server >/dev/null || need+=(redis-server)
  # The console's browser tests drive the system's Chromium (Playwright cannot download one).
  [ -x "${MIGRATOR_CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

start() {
  install_missing
  stop >/dev/null 2>&1 || true
  rm -rf "$STATE"
  mkdir -p "$STATE/pg" "$ROOT/var"
  chmod 755 "$STATE"
  if [ "$(id -u)" = 0 ]; then chown postgres "$STATE/pg"; fi
  as_postgres "$PG_BIN/initdb" -D "$STATE/pg" -U postgres --auth=trust -E UTF8 >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg/server.log" -w \
    -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1 -c fsync=$PG_FSYNC -c max_connections=200" start >/dev/null
  for db in migrator migrator_analytics; do
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db"
  done
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  cat >"$ENV_FILE" <<ENV
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/migrator
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
ENV
  echo "PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
}

stop() {
  if [ -f "$STATE/pg/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$STATE/pg" -m immediate stop >/dev/null || true
  fi
  if [ -f "$STATE/redis.pid" ]; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$STATE/redis.pid")" 2>/dev/null || true
  fi
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
