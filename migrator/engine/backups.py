"""Backups of tables before a run, verified restores, and pruning.

Where copies live is the dialect's business (a backup schema on PostgreSQL, an attached
file on SQLite). Each copy has its row count and a sha256 of its content; a restore
checks both first and refuses a copy that changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .. import audit
from ..conf import migrator_settings
from ..exceptions import OperationFailed
from ..models import Backup, Deployment, Migration, Run
from .errors import RunFailed
from .kinds import kind_for
from .target import Target

if TYPE_CHECKING:
    from ..catalog import MigrationSpec
    from .runtime import Runtime


def touched_tables(spec: MigrationSpec, target: Target) -> list[str] | None:
    """Existing tables the migration's steps change; None when a step cannot tell."""
    dialect = target.dialect
    names: set[str] = set()
    for step in spec.steps:
        named = kind_for(step.kind).touched_tables(step, dialect)
        if named is None:
            return None
        names |= named
    return sorted(names & set(dialect.user_tables()))


def backup_can_undo(spec: MigrationSpec, target: Target) -> bool:
    """Whether restoring a backup of the touched tables takes the migration back exactly:
    every step only changes rows of tables that can be named."""
    dialect = target.dialect
    return touched_tables(spec, target) is not None and all(
        kind_for(step.kind).only_changes_rows(step, dialect) for step in spec.steps
    )


def _copy_name(backup: Backup, table: str) -> str:
    return f"b{backup.pk}_{table}"[:60]


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
    target: Target,
    tables: list[str],
    *,
    deployment: Deployment | None,
    run: Run | None,
    migration: Migration | None,
    actor: str,
) -> Backup:
    """Copy ``tables`` into the backup space; record counts, sizes and checksums."""
    dialect = target.dialect
    backup = Backup.objects.create(
        database=target.alias,
        deployment=deployment,
        run=run,
        migration=migration,
        tables=[],
        location="",
    )
    entries: list[dict[str, Any]] = []
    with dialect.backup_space(backup.pk) as space:
        for table in tables:
            stored_as = _copy_name(backup, table)
            copy = f"{dialect.quote(space)}.{dialect.quote(stored_as)}"
            dialect.execute(f"CREATE TABLE {copy} AS SELECT * FROM {dialect.quote(table)}")
            rows, sha = copy_checksum(target, copy)
            size = dialect.relation_size(f"{space}.{stored_as}")
            entries.append(
                {"table": table, "stored_as": stored_as, "rows": rows, "sha256": sha, "bytes": size}
            )
    backup.tables = entries
    backup.location = dialect.backup_location(backup.pk)
    backup.rows = sum(int(e["rows"]) for e in entries)
    sizes = [int(e["bytes"]) for e in entries if e["bytes"] is not None]
    backup.size_bytes = sum(sizes) if sizes else None
    backup.save(update_fields=["tables", "location", "rows", "size_bytes"])
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
    dialect = target.dialect
    with dialect.backup_space(backup.pk) as space:
        for entry in backup.tables:
            copy = f"{dialect.quote(space)}.{dialect.quote(entry['stored_as'])}"
            rows, sha = copy_checksum(target, copy)
            if sha != entry["sha256"] or rows != entry["rows"]:
                raise OperationFailed(
                    f"backup #{backup.pk}: the copy of {entry['table']} changed since it was taken "
                    f"(sha256 {sha} != {entry['sha256']}); not restoring"
                )
        with target.atomic():
            for entry in backup.tables:
                table = entry["table"]
                copy = f"{dialect.quote(space)}.{dialect.quote(entry['stored_as'])}"
                columns = _common_columns(target, table, copy)
                dialect.execute(f"DELETE FROM {dialect.quote(table)}")
                dialect.execute(
                    f"INSERT INTO {dialect.quote(table)} ({columns}) SELECT {columns} FROM {copy}"
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
    """Remove a backup's copies (its file on SQLite) and its row."""
    target.dialect.drop_backup(backup.pk, [e["stored_as"] for e in backup.tables])
    backup.delete()


def tables_for(mode: str, spec: MigrationSpec, target: Target) -> list[str] | None:
    """Which tables a backup in ``mode`` covers; None when no backup is to be taken."""
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
        "rows": backup.rows,
        "size_bytes": backup.size_bytes,
    }


def planned_mode(rt: Runtime, run: Run) -> str:
    """The backup the deployment asked for (or the plan chose) before ``run``: ``off``,
    ``touched``..."""
    options = rt.deployment.options
    mode = str(options.get("backup", migrator_settings.BACKUP))
    if mode == "auto":
        chosen = run.migration.version in options.get("backup_versions", [])
        mode = "touched" if chosen else "off"
    return mode


def take_planned(rt: Runtime, run: Run, spec: MigrationSpec) -> None:
    """Take the backup the deployment asked for (or the plan chose) before any step."""
    if rt.policy.dry_run:
        return
    tables = tables_for(planned_mode(rt, run), spec, rt.target)
    if tables is None:
        return
    existing = Backup.objects.filter(run=run).first()
    if existing is not None:
        if existing.location:
            return
        drop(rt.target, existing)  # taken halfway by a worker that died
    rt.flush_outside()
    try:
        take(
            rt.target,
            tables,
            deployment=rt.deployment,
            run=run,
            migration=run.migration,
            actor=rt.deployment.requested_by,
        )
    except Exception as exc:  # noqa: BLE001 - no backup, no run: it was asked for
        raise RunFailed(f"{run.migration.version}: backup failed: {exc}") from exc
