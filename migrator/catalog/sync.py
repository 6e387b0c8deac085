"""Mirroring the catalog into the database, all or nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import router

from .. import audit
from ..dialects import dialect_for, state_atomic
from ..engine import rows
from ..heap import long_lived_frozen
from ..models import Migration, Step
from .loader import Catalog
from .spec import MigrationSpec
from .versions import key_of


@dataclass
class SyncReport:
    """What a sync changed (or, with ``check``, would change)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.missing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "missing": self.missing,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "warnings": self.warnings,
        }


class _DryRunRollback(Exception):
    pass


def _row_fields(spec: MigrationSpec, position: int, row: Migration | None) -> dict[str, Any]:
    # An applied row keeps the algorithm of its applied checksum, so that the two stay
    # comparable when a newer algorithm becomes the default.
    algorithm = "v1"
    if row is not None and row.applied and row.applied_checksum:
        algorithm = row.applied_checksum.partition(":")[0]
    return {
        "version": spec.version,
        "name": spec.name,
        "position": position,
        "kind": spec.effective_kind,
        "description": spec.description,
        "author": spec.author,
        "source": str(spec.source),
        "format": spec.format,
        "checksum": spec.checksum_with(algorithm),
        "depends_on": list(spec.depends_on or []),
        "reversible": spec.reversible,
        "transactional": spec.transactional,
        "risk": spec.risk,
        "requires_downtime": spec.requires_downtime,
        "release": spec.release,
        "repeatable": spec.repeatable,
        "unsupported": spec.unsupported,
        "required_stop": spec.required_stop,
        "options": dict(spec.options),
        "on_disk": True,
    }


def _steps_by_migration(database: str) -> dict[int, dict[int, Step]]:
    """The steps of every migration of ``database``, by migration and order, in one query
    (``row.steps.all()`` on a prefetched row still builds a queryset: a thousand of them
    were half of a sync that changed nothing)."""
    steps: dict[int, dict[int, Step]] = defaultdict(dict)
    for step in Step.objects.filter(migration__database=database):
        steps[step.migration_id][step.order] = step
    return steps


def _sync_steps(
    row: Migration, existing: dict[int, Step], spec: MigrationSpec, reason: str
) -> bool:
    changed = False
    for order, step_spec in enumerate(spec.steps, start=1):
        values = {
            "name": step_spec.name,
            "kind": step_spec.kind,
            "forward": step_spec.forward,
            "backward": step_spec.backward,
            "validation": step_spec.validation,
            "options": step_spec.options,
        }
        step = existing.pop(order, None)
        if step is None:
            step = Step(migration=row, order=order, **values)
        elif all(getattr(step, k) == v for k, v in values.items()):
            continue
        else:
            for key, value in values.items():
                setattr(step, key, value)
        step._change_reason = audit.change_reason(reason)  # type: ignore[attr-defined]
        step.save()
        changed = True
    for step in existing.values():
        step._change_reason = audit.change_reason(reason)  # type: ignore[attr-defined]
        step.delete()
        changed = True
    return changed


#: Advisory lock key of catalog syncs (any constant distinct from the target locks).
SYNC_LOCK_KEY = 0x6D6967726174_01


@contextmanager
def sync_lock() -> Iterator[None]:
    """Inside a transaction on migrator's database: one sync (or deployment creation) at a
    time. Two at once would both insert the same new rows, or both find the target free.
    SQLite needs nothing: its write transactions already exclude each other."""
    with dialect_for(router.db_for_write(Migration)).serialized(SYNC_LOCK_KEY):
        yield


def _create(new: list[tuple[Migration, MigrationSpec]], reason: str) -> None:
    """Insert new migrations and their steps in bulk, with their history rows."""
    if not new:
        return
    reason = audit.change_reason(reason)
    created = [row for row, _ in new]
    rows.create_with_history(created, reason=reason)
    steps = [
        rows.build(
            Step,
            migration=row,
            order=order,
            name=step.name,
            kind=step.kind,
            forward=step.forward,
            backward=step.backward,
            validation=step.validation,
            options=step.options,
        )
        for row, (_, spec) in zip(created, new, strict=True)
        for order, step in enumerate(spec.steps, start=1)
    ]
    rows.create_with_history(steps, reason=reason)


def sync_catalog(catalog: Catalog, *, actor: str, check: bool = False) -> SyncReport:
    """Make the Migration and Step rows match ``catalog``; with ``check``, change nothing."""
    report = SyncReport(warnings=[str(w) for w in catalog.warnings])
    reason = f"sync by {actor}"
    try:
        with long_lived_frozen(), state_atomic(), sync_lock():
            databases = set(catalog.databases) | set(
                Migration.objects.values_list("database", flat=True).distinct()
            )
            for database in sorted(databases):
                existing = Migration.objects.filter(database=database)
                by_key = {key_of(m.version): m for m in existing}
                steps = _steps_by_migration(database)
                new: list[tuple[Migration, MigrationSpec]] = []
                for position, spec in enumerate(catalog.for_database(database)):
                    row = by_key.pop(key_of(spec.version), None)
                    values = _row_fields(spec, position, row)
                    label = f"{database}:{spec.version}"
                    if row is None:
                        new.append((rows.build(Migration, database=database, **values), spec))
                        report.created.append(label)
                        continue
                    dirty = [k for k, v in values.items() if getattr(row, k) != v]
                    if dirty:
                        for key in dirty:
                            setattr(row, key, values[key])
                        row._change_reason = audit.change_reason(reason)  # type: ignore[attr-defined]
                        row.save()
                    if _sync_steps(row, steps.get(row.pk, {}), spec, reason) or dirty:
                        report.updated.append(label)
                    else:
                        report.unchanged += 1
                _create(new, reason)
                for row in by_key.values():
                    if row.on_disk:
                        row.on_disk = False
                        row._change_reason = audit.change_reason(reason)  # type: ignore[attr-defined]
                        row.save()
                        report.missing.append(f"{database}:{row.version}")
            if check:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return report
