"""How an applied migration can be rolled back, step by step, and what stands in the way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import Backup, Migration, Run
from ..states import Status
from .checkpoints import Checkpoints
from .kinds import WayBack, kind_for, worst
from .target import Target

if TYPE_CHECKING:
    from ..catalog import MigrationSpec


def applying_run(migration: Migration) -> Run | None:
    """The run that applied ``migration``: its captured values are what rollback restores."""
    if migration.applied_run_id:
        return migration.applied_run
    return (
        Run.objects.filter(migration=migration, direction="forward", status=Status.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def captured_tables(target: Target, forward_run_id: int, order: int) -> dict[str, str]:
    """``{capture table: table}`` that step ``order`` of a forward run kept and still exist."""
    captures = Checkpoints(target, forward_run_id, order, "forward").captures()
    return {name: table for name, table in captures.items() if target.table_exists(name)}


def step_ways(migration: Migration, spec: MigrationSpec, target: Target) -> list[WayBack]:
    """The way back of each step of an applied migration, in forward order."""
    forward = applying_run(migration)
    ways = []
    for order, step in enumerate(spec.steps, start=1):
        kind = kind_for(step.kind)
        captured = (
            forward is not None
            and kind.can_capture
            and bool(captured_tables(target, forward.pk, order))
        )
        ways.append(kind.way_back(step, captured))
    return ways


def captured_rows(migration: Migration, spec: MigrationSpec, target: Target) -> int:
    """Rows of captured values a rollback of ``migration`` would put back."""
    forward = applying_run(migration)
    if forward is None:
        return 0
    return sum(
        target.dialect.count_rows(name)
        for order, step in enumerate(spec.steps, start=1)
        if kind_for(step.kind).can_capture
        for name in captured_tables(target, forward.pk, order)
    )


def obstacles(migration: Migration, spec: MigrationSpec, target: Target) -> list[str]:
    """Steps that have no way back, each as a sentence; empty when rollback can proceed."""
    return [
        f"step {order} ({step.name}, {step.kind}) {kind_for(step.kind).missing_way_back(step)}"
        for order, (step, way) in enumerate(
            zip(spec.steps, step_ways(migration, spec, target), strict=True), start=1
        )
        if way is WayBack.NONE
    ]


def restorable_backup(migration: Migration) -> Backup | None:
    """The newest unrestored backup taken before ``migration`` was applied."""
    return (
        Backup.objects.filter(migration=migration, restored_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )


def rollback_way(migration: Migration, spec: MigrationSpec, target: Target) -> WayBack:
    """How rolling back an applied migration would go: its worst step, or its backup."""
    way = worst(step_ways(migration, spec, target))
    if way is WayBack.NONE and restorable_backup(migration) is not None:
        return WayBack.BACKUP
    return way
