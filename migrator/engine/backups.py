"""Backups of tables before a run, verified restores, and pruning.

PostgreSQL: copies in a backup schema (``BACKUP_SCHEMA``). SQLite: copies in a separate
database file under ``BACKUP_DIR``, attached while copying. Each copy has its row count and
a sha256 of its content; a restore checks the sha256 first and refuses a copy that changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlparse
from django.conf import settings
from django.utils import timezone

from .. import audit
from ..catalog import MigrationSpec
from ..conf import migrator_settings
from ..exceptions import OperationFailed
from ..models import Backup, Deployment, Run
from ..schema import user_tables
from .target import Target

ATTACHED = "migrator_backup"
_TABLE_KEYWORDS = {"FROM", "INTO", "UPDATE", "TABLE", "JOIN", "ON", "EXISTS"}


def touched_tables(spec: MigrationSpec, target: Target) -> list[str]:
    """Existing tables the migration's SQL and transforms name (parsed with sqlparse)."""
    names: set[str] = set()
    for step in spec.steps:
        if step.kind == "transform":
            names.add(json.loads(step.forward)["table"])
            continue
        if step.kind != "sql":
            continue
        for statement in sqlparse.parse(step.forward):
            previous = ""
            for token in statement.flatten():
                if token.is_whitespace or token.ttype in sqlparse.tokens.Comment:
                    continue
                if previous in _TABLE_KEYWORDS and token.ttype in (sqlparse.tokens.Name, None):
                    names.add(token.value.strip('"`[]'))
                previous = token.value.upper() if token.ttype in sqlparse.tokens.Keyword else ""
    existing = set(user_tables(target.connection))
    return sorted(names & existing)


def _copy_name(backup: Backup, table: str) -> str:
    return f"b{backup.pk}_{table}"[:60]


def _sqlite_file(backup: Backup) -> Path:
    folder = Path(migrator_settings.BACKUP_DIR)
    if not folder.is_absolute():
        folder = Path(getattr(settings, "BASE_DIR", ".")) / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"backup-{backup.pk}.sqlite3"


@contextmanager
def _backup_space(target: Target, backup: Backup) -> Iterator[str]:
    """The qualifier under which backup copies live, set up for the duration."""
    if target.vendor == "postgresql":
        schema = migrator_settings.BACKUP_SCHEMA
        target.execute(f"CREATE SCHEMA IF NOT EXISTS {target.quote(schema)}")
        yield schema
        return
    if target.vendor != "sqlite":
        raise OperationFailed(f"backups are not supported on {target.vendor}")
    target.execute(f"ATTACH DATABASE %s AS {ATTACHED}", [str(_sqlite_file(backup))])
    try:
        yield ATTACHED
    finally:
        target.execute(f"DETACH DATABASE {ATTACHED}")


def copy_checksum(target: Target, qualified: str) -> tuple[int, str]:
    """Rows and sha256 of a table's content, ordered by every column (copies have no keys)."""
    with target.connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {qualified} WHERE 1 = 0")
        width = len(cursor.description)
    order = ", ".join(str(i) for i in range(1, width + 1))
    digest, rows = hashlib.sha256(), 0
    with target.connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT * FROM {qualified} ORDER BY {order}")
        while batch := cursor.fetchmany(5000):
            for row in batch:
                values = [bytes(v).hex() if isinstance(v, memoryview | bytes) else v for v in row]
                digest.update(json.dumps(values, default=str, sort_keys=True).encode() + b"\n")
            rows += len(batch)
    return rows, digest.hexdigest()


def take(
    target: Target, tables: list[str], *, deployment: Deployment, run: Run | None, actor: str
) -> Backup:
    """Copy ``tables`` into the backup space; record counts and checksums."""
    backup = Backup.objects.create(
        database=target.alias, deployment=deployment, run=run, tables=[], location=""
    )
    entries = []
    with _backup_space(target, backup) as space:
        for table in tables:
            copy = f"{target.quote(space)}.{target.quote(_copy_name(backup, table))}"
            target.execute(f"CREATE TABLE {copy} AS SELECT * FROM {target.quote(table)}")
            rows, sha = copy_checksum(target, copy)
            entries.append(
                {
                    "table": table,
                    "stored_as": _copy_name(backup, table),
                    "rows": rows,
                    "sha256": sha,
                }
            )
    backup.tables = entries
    backup.location = (
        f"schema {migrator_settings.BACKUP_SCHEMA}"
        if target.vendor == "postgresql"
        else str(_sqlite_file(backup))
    )
    backup.save(update_fields=["tables", "location"])
    audit.record(
        "backup",
        f"backup #{backup.pk} of {', '.join(tables) or 'no tables'}",
        actor=actor,
        database=target.alias,
        deployment=deployment,
        run=run,
        tables=entries,
    )
    return backup


def restore(target: Target, backup: Backup, *, actor: str) -> None:
    """Verify every copy's checksum, then replace each table's rows with the copy's."""
    with _backup_space(target, backup) as space:
        for entry in backup.tables:
            copy = f"{target.quote(space)}.{target.quote(entry['stored_as'])}"
            rows, sha = copy_checksum(target, copy)
            if sha != entry["sha256"] or rows != entry["rows"]:
                raise OperationFailed(
                    f"backup #{backup.pk}: the copy of {entry['table']} changed since it was taken "
                    f"(sha256 {sha} != {entry['sha256']}); not restoring"
                )
        with target.atomic():
            for entry in backup.tables:
                table, copy = (
                    entry["table"],
                    f"{target.quote(space)}.{target.quote(entry['stored_as'])}",
                )
                columns = _common_columns(target, table, copy)
                target.execute(f"DELETE FROM {target.quote(table)}")
                target.execute(
                    f"INSERT INTO {target.quote(table)} ({columns}) SELECT {columns} FROM {copy}"
                )
    backup.restored_at = timezone.now()
    backup.save(update_fields=["restored_at"])
    audit.record(
        "restore",
        f"backup #{backup.pk} restored",
        actor=actor,
        database=target.alias,
        deployment=backup.deployment,
        run=backup.run,
    )


def _common_columns(target: Target, table: str, copy: str) -> str:
    def names(qualified: str) -> list[str]:
        with target.connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {qualified} WHERE 1 = 0")
            return [c[0] for c in cursor.description]

    current = names(target.quote(table))
    kept = set(names(copy))
    return ", ".join(target.quote(c) for c in current if c in kept)


def drop(target: Target, backup: Backup) -> None:
    """Remove a backup's copies (and its file on SQLite) and its row."""
    if target.vendor == "postgresql":
        for entry in backup.tables:
            target.execute(
                f"DROP TABLE IF EXISTS {target.quote(migrator_settings.BACKUP_SCHEMA)}.{target.quote(entry['stored_as'])}"
            )
    else:
        _sqlite_file(backup).unlink(missing_ok=True)
    backup.delete()


def tables_for(mode: str, spec: MigrationSpec, target: Target) -> list[str] | None:
    """Which tables a backup in ``mode`` covers; None when backups are off."""
    if mode == "off":
        return None
    if mode == "tables":
        return list(migrator_settings.BACKUP_TABLES)
    return touched_tables(spec, target)


def summary(backup: Backup) -> dict[str, Any]:
    return {
        "id": backup.pk,
        "database": backup.database,
        "tables": backup.tables,
        "location": backup.location,
    }
