"""Engine tests run with real transactions, so each test drops what its migrations made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from migrator.conf import migrator_settings

ALIASES = ["default", "analytics"]


def _snapshot(alias: str) -> dict[str, set[str]]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        return {
            table: {
                name
                for name, info in connection.introspection.get_constraints(cursor, table).items()
                if info.get("index") and not info.get("primary_key")
            }
            for table in tables
        }


def _restore(alias: str, before: dict[str, set[str]]) -> None:
    connection = connections[alias]
    quote = connection.ops.quote_name
    after = _snapshot(alias)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA foreign_keys = OFF")
        for table in after:
            if table not in before:
                cascade = " CASCADE" if connection.vendor == "postgresql" else ""
                cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
                continue
            for index in after[table] - before[table]:
                cursor.execute(f"DROP INDEX IF EXISTS {quote(index)}")
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DROP SCHEMA IF EXISTS {quote(migrator_settings.BACKUP_SCHEMA)} CASCADE"
            )
        else:
            cursor.execute("PRAGMA foreign_keys = ON")


@pytest.fixture(autouse=True)
def restore_target_schema(
    django_db_setup: Any, django_db_blocker: Any, settings: Any, tmp_path: Any
) -> Iterator[None]:
    """Drop tables and indexes the test's migrations created (Django only flushes rows)."""
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
