"""Engine tests run with real transactions, so each test drops what its migrations made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from migrator.conf import migrator_settings

ALIASES = ["default", "analytics"]


def _snapshot(alias: str) -> dict[str, Any]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.get_table_list(cursor)
        state: dict[str, Any] = {
            "tables": {
                t.name: {
                    name
                    for name, info in connection.introspection.get_constraints(
                        cursor, t.name
                    ).items()
                    if info.get("index") and not info.get("primary_key")
                }
                for t in tables
                if t.type == "t"
            },
            "views": {t.name for t in tables if t.type == "v"},
            "functions": set(),
        }
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
            state["functions"] = {row[0] for row in cursor.fetchall()}
    return state


def _restore(alias: str, before: dict[str, Any]) -> None:
    connection = connections[alias]
    quote = connection.ops.quote_name
    after = _snapshot(alias)
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if not pg:
            cursor.execute("PRAGMA foreign_keys = OFF")
        for view in after["views"] - before["views"]:
            cursor.execute(f"DROP VIEW IF EXISTS {quote(view)}")
        for table, indexes in after["tables"].items():
            if table not in before["tables"]:
                cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{' CASCADE' if pg else ''}")
                continue
            for index in indexes - before["tables"][table]:
                cursor.execute(f"DROP INDEX IF EXISTS {quote(index)}")
        for function in after["functions"] - before["functions"]:
            cursor.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
        if pg:
            cursor.execute(
                f"DROP SCHEMA IF EXISTS {quote(migrator_settings.BACKUP_SCHEMA)} CASCADE"
            )
        else:
            cursor.execute("PRAGMA foreign_keys = ON")


@pytest.fixture(autouse=True)
def restore_target_schema(
    django_db_setup: Any, django_db_blocker: Any, settings: Any, tmp_path: Any
) -> Iterator[None]:
    """Drop tables, views, indexes and functions the test's migrations created (Django
    only flushes rows)."""
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "HEARTBEAT_SECONDS": 0.2,
    }
    with django_db_blocker.unblock():
        before = {alias: _snapshot(alias) for alias in ALIASES}
    yield
    with django_db_blocker.unblock():
        for alias in ALIASES:
            _restore(alias, before[alias])
