"""Catalog operations: sync, status, verify, repair, baseline, create."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from .. import audit
from ..catalog import MigrationSpec, load_catalog
from ..catalog.formats import SCAFFOLDS
from ..catalog.sync import SyncReport, sync_catalog
from ..catalog.versions import key_of
from ..dialects import state_atomic
from ..exceptions import BadInput, OperationFailed
from ..models import Migration
from .common import check_database, refuse_if_busy, require_tables
from .status import migration_states, target_aliases


def sync(*, actor: str, check: bool = False) -> SyncReport:
    """Read the catalog and mirror it into the database, all or nothing."""
    require_tables()
    catalog = load_catalog()
    report = sync_catalog(catalog, actor=actor, check=check)
    if report.changed and not check:
        audit.record(
            "sync",
            f"catalog synced: {len(report.created)} new, {len(report.updated)} updated, "
            f"{len(report.missing)} gone from disk",
            actor=actor,
            **report.as_dict(),
        )
    return report


def verify(database: str | None = None, *, with_warnings: bool = False) -> Any:
    """Problems with applied migrations: drifted files and applied files gone from disk
    (with ``with_warnings``, also the catalog's warnings: ``(problems, warnings)``)."""
    require_tables()
    catalog = load_catalog()
    problems = []
    for alias in target_aliases(catalog, database):
        for state in migration_states(catalog, alias):
            if state.state == "drifted":
                problems.append(
                    f"{state.source}: {alias} {state.version} changed after it was applied "
                    f"(applied {state.applied_checksum}, now {state.checksum}); restore the file "
                    "or accept it with `migrator repair`"
                )
            elif state.state == "missing":
                problems.append(
                    f"{state.source}: {alias} {state.version} is applied but its file is gone"
                )
    if with_warnings:
        return problems, [str(w) for w in catalog.warnings]
    return problems


def repair(
    *, actor: str, reason: str, database: str | None = None, versions: list[str] | None = None
) -> list[str]:
    """Accept the current checksum of drifted migrations; recorded with who and why."""
    require_tables()
    if not reason.strip():
        raise BadInput("repair needs --reason: say why the changed files are accepted")
    catalog = load_catalog()
    repaired: list[str] = []
    wanted = {key_of(v) for v in versions} if versions else None
    with state_atomic():
        sync_catalog(catalog, actor=actor)
        for alias in target_aliases(catalog, database):
            drifted = [s for s in migration_states(catalog, alias) if s.state == "drifted"]
            if wanted is not None:
                unknown = wanted - {key_of(s.version) for s in drifted}
                if unknown:
                    raise BadInput(f"not drifted on {alias}: {sorted(str(u) for u in unknown)}")
                drifted = [s for s in drifted if key_of(s.version) in wanted]
            for state in drifted:
                row = Migration.objects.get(database=alias, version=state.version)
                old = row.applied_checksum
                row.applied_checksum = state.checksum
                row._change_reason = audit.change_reason(f"repair by {actor}: {reason}")  # type: ignore[attr-defined]
                row.save()
                audit.record(
                    "repair",
                    f"{alias} {row.version}: accepted checksum {state.checksum} ({reason})",
                    actor=actor,
                    database=alias,
                    version=row.version,
                    old_checksum=old,
                    new_checksum=state.checksum,
                    reason=reason,
                )
                repaired.append(f"{alias}:{row.version}")
    return repaired


def baseline(*, version: str, actor: str, database: str) -> list[str]:
    """Mark every migration up to ``version`` applied without running it (audited)."""
    require_tables()
    check_database(database)
    catalog = load_catalog()
    spec = catalog.get(database, version)
    if spec is None:
        known = [s.version for s in catalog.for_database(database)]
        raise BadInput(f"unknown version {version!r} for database {database!r}; known: {known}")
    if Migration.objects.filter(database=database, applied=True).exists():
        raise OperationFailed(
            f"{database} already has applied migrations; baseline is for a target without "
            "history (use `migrator apply` to move it)"
        )
    marked: list[str] = []
    now = timezone.now()
    with state_atomic():
        refuse_if_busy(database)
        sync_catalog(catalog, actor=actor)
        for row in Migration.objects.filter(database=database):
            if key_of(row.version) > key_of(spec.version):
                continue
            row.applied = True
            row.baselined = True
            row.applied_at = now
            row.applied_by = actor
            row.applied_checksum = row.checksum
            row._change_reason = audit.change_reason(f"baseline to {spec.version} by {actor}")  # type: ignore[attr-defined]
            row.save()
            marked.append(row.version)
        audit.record(
            "baseline",
            f"{database} baselined at {spec.version}: {len(marked)} migrations marked applied",
            actor=actor,
            database=database,
            version=spec.version,
            marked=marked,
        )
    return marked


def mark_done(database: str, versions: list[str], *, actor: str, reason: str) -> list[str]:
    """Mark migrations migrator cannot run (``unsupported``) applied, once an operator ran
    them with their own tool; audited with the reason."""
    require_tables()
    check_database(database)
    if not reason.strip():
        raise BadInput("mark-done needs --reason: say how and when it was run")
    catalog = load_catalog()
    marked: list[str] = []
    with state_atomic():
        refuse_if_busy(database)
        sync_catalog(catalog, actor=actor)
        for version in versions:
            spec = catalog.get(database, version)
            if spec is None:
                raise BadInput(f"unknown version {version!r} for database {database!r}")
            if not spec.unsupported:
                raise BadInput(
                    f"{spec.version} can be run by migrator: apply it instead of marking it done"
                )
            row = Migration.objects.get(database=database, version=spec.version)
            if row.applied:
                raise OperationFailed(f"{spec.version} is already applied")
            row.applied = True
            row.marked_done = True
            row.applied_at = timezone.now()
            row.applied_by = actor
            row.applied_checksum = row.checksum
            row._change_reason = audit.change_reason(f"marked done by {actor}: {reason}")  # type: ignore[attr-defined]
            row.save()
            audit.record(
                "mark_done",
                f"{database} {row.version}: marked done ({reason})",
                actor=actor,
                database=database,
                version=row.version,
                reason=reason,
            )
            marked.append(row.version)
    return marked


_NAME_CLEAN = re.compile(r"[^a-z0-9]+")


def next_version(versions: list[str], now: datetime | None = None) -> str:
    """The version after the newest one, in the same style (counter, timestamp, dotted)."""
    if not versions:
        return "0001"
    last = max(versions, key=key_of)
    if last.isdigit():
        if len(last) >= 12:  # a timestamp such as 20240101120000
            stamp = (now or timezone.now()).strftime("%Y%m%d%H%M%S")
            return stamp if stamp > last else str(int(last) + 1)
        return str(int(last) + 1).zfill(len(last))
    head, _, tail = last.rpartition(".")
    return f"{head}.{int(tail) + 1}"


def create(
    *, name: str, fmt: str = "sql", database: str | None = None, directory: str | None = None
) -> list[Path]:
    """Scaffold a new migration with the next version in the right folder."""
    if fmt not in SCAFFOLDS:
        raise BadInput(f"unknown format {fmt!r}: use one of {sorted(SCAFFOLDS)}")
    slug = _NAME_CLEAN.sub("_", name.lower()).strip("_")
    if not slug:
        raise BadInput(f"name {name!r} has no letters or digits; use e.g. add_user_roles")
    catalog = load_catalog()
    if directory:
        folder = Path(directory)
        if not folder.is_dir():
            raise BadInput(f"--dir {folder} does not exist")
        alias = database or next(
            (s.database for s in catalog.sources if s.path.resolve() == folder.resolve()), "default"
        )
    else:
        from ..conf import migrator_settings

        alias = database or migrator_settings.DEFAULT_DATABASE
        candidates = [s for s in catalog.sources if s.database == alias]
        if not candidates:
            raise BadInput(
                f"no catalog folder for database {alias!r}: create <app>/datamigrations/ "
                "or add it to MIGRATOR['DIRS'], or pass --dir"
            )
        folder = candidates[0].path
    check_database(alias)
    version = next_version([s.version for s in catalog.for_database(alias)])
    return SCAFFOLDS[fmt].scaffold(folder, version, slug)


def spec_for(database: str, version: str) -> MigrationSpec:
    """The catalog's migration ``version`` on ``database``, or :class:`BadInput`."""
    spec = load_catalog().get(database, version)
    if spec is None:
        raise BadInput(f"unknown version {version!r} for database {database!r}")
    return spec
