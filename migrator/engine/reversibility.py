"""Whether an applied migration can be rolled back, and if not, why."""

from __future__ import annotations

import json

from ..catalog import MigrationSpec
from ..models import Migration, Run, StepRun
from ..states import Status
from .target import Target


def latest_forward_run(migration: Migration) -> Run | None:
    """The run that last applied ``migration``: its captured values are what rollback uses."""
    return (
        Run.objects.filter(migration=migration, direction="forward", status=Status.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def captured_tables(target: Target, forward_run_id: int, order: int) -> dict[str, str]:
    """``{capture table: table}`` that step ``order`` of a forward run kept and still exist."""
    cursor = (
        StepRun.objects.filter(run_id=forward_run_id, order=order)
        .values_list("cursor", flat=True)
        .first()
    )
    captures = cursor.get("captures", {}) if isinstance(cursor, dict) else {}
    return {name: table for name, table in captures.items() if target.table_exists(name)}


def obstacles(migration: Migration, spec: MigrationSpec, target: Target) -> list[str]:
    """Steps that have no way back, each as a sentence; empty when rollback can proceed."""
    forward = latest_forward_run(migration)
    problems = []
    for order, step in enumerate(spec.steps, start=1):
        label = f"step {order} ({step.name}, {step.kind})"
        if step.kind == "sql" and not step.backward.strip():
            problems.append(f"{label} has no backward SQL")
        elif step.kind == "transform":
            if forward is None:
                problems.append(
                    f"{label}: no captured values (the migration was not applied by migrator)"
                )
            else:
                table = json.loads(step.forward)["table"]
                if not target.table_exists(target.capture_table(forward.pk, order, table)):
                    problems.append(f"{label}: its captured values are gone")
        elif step.kind == "python" and step.backward_callable is None:
            if forward is None or not captured_tables(target, forward.pk, order):
                problems.append(f"{label} has no backward callable and captured nothing")
    return problems
