#!/usr/bin/env bash
# Run the benchmarks on a throwaway PostgreSQL; stops it whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
MIGRATOR_PG_FSYNC=on scripts/services.sh start
trap 'scripts/services.sh stop' EXIT
# shellcheck disable=SC1091
source var/services.env
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py migrate --database analytics --noinput -v0
status=0
"$PY" bench/transform_bench.py "$@" || status=1
"$PY" bench/catalog_bench.py || status=1
# The console on the embedded SQLite (its target is stated there).
env -u DATABASE_URL "$PY" bench/console_bench.py || status=1
env -u DATABASE_URL "$PY" bench/compat_bench.py || status=1
env -u DATABASE_URL "$PY" bench/squawk_bench.py || status=1
env -u DATABASE_URL "$PY" bench/script_size_bench.py || status=1
exit $status
