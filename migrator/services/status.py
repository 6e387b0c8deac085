"""Where each target is: the state of every migration (applied, pending, running, drifted,
missing, unsupported), running work, locks, and the last deployment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog import Catalog, load_catalog
from ..catalog import checksum as checksums
from ..catalog.formats.flyway import callback_event
from ..catalog.versions import key_of
from ..engine.rows import load as load_rows
from ..heap import long_lived_frozen
from ..models import Deployment, Migration, Run, TargetLock
from ..states import IN_FLIGHT, UNFINISHED
from .common import check_database, require_tables


@dataclass
class MigrationState:
    """A migration as ``status`` reports it."""

    database: str
    version: str
    name: str
    format: str
    source: str
    state: str  # applied, pending, drifted, missing, unsupported or callback
    reversible: bool
    checksum: str
    applied_checksum: str
    applied_at: str | None
    applied_by: str
    baselined: bool
    out_of_order: bool
    repeatable: bool = False
    callback: str = ""
    unsupported: str = ""
    marked_done: bool = False
    release: str = ""
    #: The Migration row (None until the first sync) and the deployment that applied it.
    migration_id: int | None = None
    applied_by_deployment: int | None = None


def migration_states(catalog: Catalog, database: str) -> list[MigrationState]:
    rows = {
        key_of(m.version): m
        for m in load_rows(
            Migration.objects.filter(database=database),
            "applied_run",
            related_only=["deployment_id"],
        )
    }
    applied = {key: m for key, m in rows.items() if m.applied}
    current = max((key_of(m.version) for m in applied.values() if not m.repeatable), default=None)
    states: list[MigrationState] = []
    for spec in catalog.for_database(database):
        row = applied.pop(key_of(spec.version), None)
        if spec.callback:
            # Never due on its own: it runs with every deployment that applies something.
            state = "callback"
        elif row is None:
            state = "unsupported" if spec.unsupported else "pending"
        elif checksums.matches(row.applied_checksum, spec.parts):
            state = "applied"
        else:
            # A changed repeatable script is not drift: it is due to run again.
            state = "pending" if spec.repeatable else "drifted"
        states.append(
            MigrationState(
                database=database,
                version=spec.version,
                name=spec.name,
                format=spec.format,
                source=str(spec.source),
                state=state,
                reversible=spec.reversible,
                checksum=spec.checksum,
                applied_checksum=row.applied_checksum if row else "",
                applied_at=row.applied_at.isoformat() if row and row.applied_at else None,
                applied_by=row.applied_by if row else "",
                baselined=row.baselined if row else False,
                out_of_order=state == "pending"
                and not spec.repeatable
                and current is not None
                and key_of(spec.version) < current,
                repeatable=spec.repeatable,
                callback=spec.callback,
                unsupported=spec.unsupported,
                marked_done=row.marked_done if row else False,
                release=spec.release or "",
                **_links(row or rows.get(key_of(spec.version))),
            )
        )
    for row in applied.values():
        if row.repeatable and callback_event(row.version):
            continue  # a callback whose file is gone: no migration is missing
        states.append(
            MigrationState(
                database=database,
                version=row.version,
                name=row.name,
                format=row.format,
                source=row.source,
                state="missing",
                reversible=row.reversible,
                checksum=row.checksum,
                applied_checksum=row.applied_checksum,
                applied_at=row.applied_at.isoformat() if row.applied_at else None,
                applied_by=row.applied_by,
                baselined=row.baselined,
                out_of_order=False,
                repeatable=row.repeatable,
                release=row.release,
                **_links(row),
            )
        )
    states.sort(key=lambda s: (s.repeatable, key_of(s.version)))
    return states


def _links(row: Migration | None) -> dict[str, Any]:
    if row is None:
        return {}
    run = row.applied_run if row.applied else None
    return {
        "migration_id": row.pk,
        "applied_by_deployment": run.deployment_id if run is not None else None,
    }


def target_aliases(catalog: Catalog, database: str | None) -> list[str]:
    if database is not None:
        check_database(database)
        return [database]
    known = set(catalog.databases) | set(
        Migration.objects.values_list("database", flat=True).distinct()
    )
    return sorted(known) or ["default"]


@long_lived_frozen()
def status(database: str | None = None) -> dict[str, Any]:
    """Everything an operator asks first: where each target is and what is waiting.

    The keys of the returned dict are the stable ``status --json`` format (docs/commands.md).
    """
    require_tables()
    catalog = load_catalog()
    targets = []
    for alias in target_aliases(catalog, database):
        states = migration_states(catalog, alias)
        deployments = list(
            Deployment.objects.filter(database=alias, status__in=list(UNFINISHED)).order_by("pk")
        )
        in_flight = set(
            Run.objects.filter(deployment__in=deployments, status__in=list(IN_FLIGHT)).values_list(
                "migration__version", flat=True
            )
        )
        for state in states:
            if state.state == "pending" and state.version in in_flight:
                state.state = "running"
        applied = [
            s for s in states if s.state in ("applied", "drifted", "missing") and not s.repeatable
        ]
        lock = TargetLock.objects.filter(database=alias).first()
        last = Deployment.objects.filter(database=alias, dry_run=False).order_by("-pk").first()
        targets.append(
            {
                "database": alias,
                "current_version": applied[-1].version if applied else None,
                "latest_version": next(
                    (s.version for s in reversed(states) if not s.repeatable), None
                ),
                "applied": [s.version for s in applied],
                "pending": [s.version for s in states if s.state in ("pending", "running")],
                "running": [s.version for s in states if s.state == "running"],
                "unsupported": [s.version for s in states if s.state == "unsupported"],
                "callbacks": [s.version for s in states if s.state == "callback"],
                "drifted": [s.version for s in states if s.state == "drifted"],
                "missing": [s.version for s in states if s.state == "missing"],
                "irreversible": [
                    s.version for s in states if not s.reversible and s.state != "callback"
                ],
                # Flat fields: a shallow copy is what asdict() would return, far cheaper.
                "migrations": [dict(vars(s)) for s in states],
                "deployments": [
                    {
                        "id": d.pk,
                        "status": d.status,
                        "direction": d.direction,
                        "goal_version": d.goal_version or None,
                        "requested_by": d.requested_by,
                    }
                    for d in deployments
                ],
                "lock": None
                if lock is None
                else {
                    "host": lock.host,
                    "pid": lock.pid,
                    "deployment": lock.deployment_id,
                    "acquired_at": lock.acquired_at.isoformat(),
                    "heartbeat_at": lock.heartbeat_at.isoformat(),
                },
                "last_deployment": None
                if last is None
                else {
                    "id": last.pk,
                    "status": last.status,
                    "direction": last.direction,
                    "still_applied": (last.report or {}).get("still_applied"),
                },
            }
        )
    return {
        "databases": targets,
        "warnings": [w.as_dict() for w in catalog.warnings],
    }
