#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest on SQLite and on PostgreSQL (with Redis).
# Starts throwaway servers on loopback and stops them whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

scripts/services.sh start
trap 'scripts/services.sh stop' EXIT
# shellcheck disable=SC1091
source var/services.env

echo "== ruff"; "$PY" -m ruff check . && "$PY" -m ruff format --check .
echo "== mypy"; "$PY" -m mypy migrator project
echo "== import cycles"; "$PY" scripts/import_cycles.py
echo "== pytest on SQLite"
env -u DATABASE_URL "$PY" -m pytest "$@"
echo "== pytest on PostgreSQL"
"$PY" -m pytest "$@"
