"""Changing the status of deployments and runs: checked, saved narrowly, audited."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .. import audit
from ..models import Deployment, Run
from ..states import FINISHED, Status, check_transition


def set_status(
    obj: Deployment | Run, status: str, *, message: str = "", level: str = "info", **fields: Any
) -> None:
    """Move ``obj`` to ``status`` if the transition table allows it; record an event.

    Only the named fields are written, so flags an operator sets meanwhile (pause,
    cancel) are never overwritten by the worker's stale copy.
    """
    if obj.status == status and not fields:
        return
    if obj.status != status:
        check_transition(obj.status, status)
    now = timezone.now()
    previous = obj.status
    obj.status = status
    update = ["status", *fields]
    for name, value in fields.items():
        setattr(obj, name, value)
    if status == Status.RUNNING and obj.started_at is None:
        obj.started_at = now
        update.append("started_at")
    if status in FINISHED or status in (Status.PAUSED, Status.INTERRUPTED):
        obj.finished_at = now if status in FINISHED else None
        update.append("finished_at")
    deployment = obj if isinstance(obj, Deployment) else obj.deployment
    run = obj if isinstance(obj, Run) else None
    actor = deployment.requested_by
    reason = f"{previous} → {status}" + (f": {message}" if message else "")
    obj._change_reason = audit.change_reason(reason)  # type: ignore[union-attr]
    obj.save(update_fields=sorted(set(update)))
    what = (
        f"deployment #{deployment.pk}"
        if run is None
        else f"run {run.migration.version} ({run.direction})"
    )
    audit.record(
        "status",
        f"{what}: {previous} → {status}" + (f": {message}" if message else ""),
        actor=actor,
        level=level,
        database=deployment.database,
        deployment=deployment,
        run=run,
        previous=previous,
        status=status,
    )
