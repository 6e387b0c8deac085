"""Dry runs: the deployment executed inside one transaction that is then rolled back.

The report lists, per step, the statements with rows affected, validation outcomes and
timings, and the schema diff before/after. Non-transactional SQL steps (for example
``CREATE INDEX CONCURRENTLY``) cannot run inside a transaction: they are listed as not
executed. Nothing is written to migrator's tables until the target is rolled back.
"""

from __future__ import annotations

import time
from typing import Any

from ..models import Deployment
from ..schema import capture_schema, diff_schemas
from ..states import Status
from .execution import StepExecution
from .progress import Reporter
from .reversibility import latest_forward_run
from .runner import RunFailed, _steps_in_order, load_spec
from .steps import KINDS
from .target import Target
from .transitions import set_status


class _RollBack(Exception):
    pass


def execute_dry_run(deployment: Deployment, reporter: Reporter | None = None) -> Deployment:
    target = Target(deployment.database)
    set_status(deployment, Status.RUNNING)
    before = capture_schema(target.connection)
    after = before
    runs_report: list[dict[str, Any]] = []
    error = ""
    try:
        with target.atomic():
            for run in deployment.runs.select_related("migration").order_by("order"):
                entry: dict[str, Any] = {
                    "version": run.migration.version,
                    "name": run.migration.name,
                    "direction": run.direction,
                    "steps": [],
                }
                runs_report.append(entry)
                try:
                    _dry_run(run, deployment, target, entry, reporter)
                except Exception as exc:  # noqa: BLE001 - reported, then everything is rolled back
                    error = str(exc)
                    entry["error"] = error
                    break
            after = capture_schema(target.connection)
            raise _RollBack
    except _RollBack:
        pass
    report = {
        "runs": runs_report,
        "schema_before": before,
        "schema_diff": diff_schemas(before, after),
        "error": error or None,
    }
    status = Status.FAILED if error else Status.SUCCEEDED
    set_status(
        deployment,
        status,
        message=error or "dry run rolled back",
        report=report,
        error=error,
        level="error" if error else "info",
    )
    for run in deployment.runs.all():
        run.status = status
        run.save(update_fields=["status"])
    return deployment


def _dry_run(
    run: Any,
    deployment: Deployment,
    target: Target,
    entry: dict[str, Any],
    reporter: Reporter | None,
) -> None:
    spec = load_spec(run.migration, run.direction)
    forward = run if run.direction == "forward" else latest_forward_run(run.migration)
    for _, step_spec, order in _steps_in_order(spec, run):
        step_entry: dict[str, Any] = {
            "order": order,
            "name": step_spec.name,
            "kind": step_spec.kind,
        }
        entry["steps"].append(step_entry)
        sql = step_spec.forward if run.direction == "forward" else step_spec.backward
        if step_spec.kind == "sql" and not step_spec.transactional:
            step_entry.update(
                executed=False, reason="non-transactional: cannot run inside the dry run", sql=sql
            )
            continue
        ex = StepExecution.build(
            target=target,
            deployment=deployment,
            run=run,
            step_run=None,
            spec=step_spec,
            order=order,
            forward_run_id=forward.pk if forward else 0,
            direction=run.direction,
            reporter=reporter,
            dry_run=True,
        )
        started = time.perf_counter()
        kind = KINDS[step_spec.kind]
        try:
            if run.direction == "forward":
                kind.forward(ex)
            else:
                kind.backward(ex)
        finally:
            step_entry.update(
                executed=True,
                rows=ex.progress.done,
                seconds=round(time.perf_counter() - started, 6),
                statements=[n for n in ex.notes if n["kind"] == "statement"],
                validations=[n for n in ex.notes if n["kind"] == "validation"],
            )
            if step_spec.kind == "sql" and run.direction == "backward":
                step_entry["sql"] = sql


__all__ = ["RunFailed", "execute_dry_run"]
