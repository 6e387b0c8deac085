"""The JSON shapes the CLI (``--json``), the admin's live endpoints and any API share.

Keys are stable and documented in docs/commands.md; add keys, never rename them.
"""

from __future__ import annotations

from typing import Any

from ..models import Deployment, Event, Run, StepRun


def step_run_dict(step_run: StepRun) -> dict[str, Any]:
    return {
        "order": step_run.order,
        "step_order": step_run.step_order,
        "name": step_run.name,
        "kind": step_run.kind,
        "status": step_run.status,
        "rows_affected": step_run.rows_affected,
        "batches_done": step_run.batches_done,
        "attempts": step_run.attempts,
        "error": step_run.error or None,
        "started_at": step_run.started_at.isoformat() if step_run.started_at else None,
        "finished_at": step_run.finished_at.isoformat() if step_run.finished_at else None,
        "seconds": step_run.duration,
    }


def run_dict(run: Run, with_steps: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.pk,
        "version": run.migration.version,
        "name": run.migration.name,
        "direction": run.direction,
        "status": run.status,
        "rows_done": run.rows_done,
        "rows_total": run.rows_total,
        "error": run.error or None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": run.duration,
    }
    if with_steps:
        data["steps"] = [step_run_dict(s) for s in run.step_runs.all()]
    return data


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "time": event.time.isoformat(),
        "level": event.level,
        "action": event.action,
        "actor": event.actor,
        "message": event.message,
        "run": event.run_id,
        "step_run": event.step_run_id,
    }


def deployment_dict(deployment: Deployment, *, with_steps: bool = False) -> dict[str, Any]:
    """A deployment with its runs, as ``apply --json`` prints it."""
    runs = (
        deployment.runs.select_related("migration").prefetch_related("step_runs").order_by("order")
    )
    return {
        "deployment": deployment.pk,
        "database": deployment.database,
        "direction": deployment.direction,
        "goal_version": deployment.goal_version or None,
        "status": deployment.status,
        "dry_run": deployment.dry_run,
        "requested_by": deployment.requested_by,
        "error": deployment.error or None,
        "failure": deployment.failure or None,
        "progress": deployment.progress or None,
        "runs": [run_dict(r, with_steps=with_steps) for r in runs],
        "report": deployment.report or None,
    }


def story(deployment: Deployment) -> list[dict[str, Any]]:
    """A deployment's events in the order they happened: its full story."""
    return [event_dict(e) for e in deployment.events.order_by("time", "pk")]
