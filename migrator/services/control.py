"""Controlling deployments: pause, resume, cancel, retry, and waiting for one to stop."""

from __future__ import annotations

import time
from typing import Any

from django.db import router, transaction

from .. import audit
from ..backends import get_backend
from ..dialects import state_atomic
from ..engine.journal import Journal, compare_and_set
from ..exceptions import BadInput, OperationFailed
from ..models import Deployment
from ..models.execution import Phase
from ..states import FINISHED, STOPPED, Status


def get_deployment(deployment_id: int) -> Deployment:
    try:
        return Deployment.objects.get(pk=deployment_id)
    except Deployment.DoesNotExist:
        raise BadInput(f"no deployment #{deployment_id}") from None


def _requeue(
    deployment: Deployment,
    expected: set[str],
    *,
    actor: str,
    user_id: Any,
    backend: str | None,
    message: str,
    **fields: Any,
) -> Deployment:
    """Back to ``queued`` (compare-and-set) and enqueue after commit."""
    chosen_name = backend or deployment.backend or None
    chosen = get_backend(chosen_name)
    with state_atomic():
        if not compare_and_set(
            deployment,
            expected,
            Status.QUEUED,
            actor=actor,
            user_id=user_id,
            message=message,
            backend=chosen_name or "",
            worker="" if chosen.detached else _worker(),
            **fields,
        ):
            deployment.refresh_from_db()
            raise OperationFailed(
                f"deployment #{deployment.pk} is {deployment.status}: it changed meanwhile"
            )
        transaction.on_commit(
            lambda: _send(chosen_name, deployment.pk), using=router.db_for_write(Deployment)
        )
    deployment.refresh_from_db()
    return deployment


def _worker() -> str:
    from ..engine.locks import worker_id

    return worker_id()


def _send(backend: str | None, deployment_id: int) -> None:
    job = get_backend(backend).enqueue(deployment_id)
    Deployment.objects.filter(pk=deployment_id).update(job_id=job)


def pause(deployment_id: int, *, actor: str, user_id: Any = None) -> Deployment:
    """Ask a running deployment to pause at its next batch or step boundary."""
    deployment = get_deployment(deployment_id)
    if deployment.status not in (Status.QUEUED, Status.RUNNING):
        raise OperationFailed(
            f"deployment #{deployment.pk} is {deployment.status}: only queued or running ones pause"
        )
    if deployment.options.get("atomic"):
        raise OperationFailed(
            f"deployment #{deployment.pk} runs as one transaction: it cannot pause (cancel it)"
        )
    # One transaction: the request and its event together, one wait for SQLite's lock.
    with state_atomic():
        Deployment.objects.filter(pk=deployment.pk).update(pause_requested=True)
        audit.record(
            "pause_requested",
            f"deployment #{deployment.pk}: pause requested",
            actor=actor,
            database=deployment.database,
            deployment=deployment,
        )
    deployment.refresh_from_db()
    return deployment


def resume(
    deployment_id: int, *, actor: str, user_id: Any = None, backend: str | None = None
) -> Deployment:
    """Continue a paused, interrupted or failed deployment from its checkpoint.

    A queued deployment whose job is lost (its backend says so) is queued again; two jobs
    for one deployment are harmless, as only one can claim it.
    """
    deployment = get_deployment(deployment_id)
    if deployment.status == Status.QUEUED:
        if get_backend(deployment.backend or None).job_alive(deployment) is not False:
            raise OperationFailed(f"deployment #{deployment.pk} is queued and its job is alive")
        _send(backend or deployment.backend or None, deployment.pk)
        audit.record(
            "resume",
            f"deployment #{deployment.pk}: its job was lost; queued again",
            actor=actor,
            database=deployment.database,
            deployment=deployment,
        )
        deployment.refresh_from_db()
        return deployment
    if deployment.status not in (Status.PAUSED, Status.INTERRUPTED, Status.FAILED):
        raise OperationFailed(
            f"deployment #{deployment.pk} is {deployment.status}: nothing to resume"
        )
    if deployment.dry_run and deployment.status == Status.FAILED:
        raise OperationFailed(f"deployment #{deployment.pk} is a failed dry run: plan a new one")
    audit.record(
        "resume",
        f"deployment #{deployment.pk}: resumed",
        actor=actor,
        database=deployment.database,
        deployment=deployment,
    )
    return _requeue(
        deployment,
        {Status.PAUSED, Status.INTERRUPTED, Status.FAILED},
        actor=actor,
        user_id=user_id,
        backend=backend,
        message=f"resumed by {actor}",
        pause_requested=False,
        cancel_requested=False,
    )


def retry(
    deployment_id: int, *, actor: str, user_id: Any = None, backend: str | None = None
) -> Deployment:
    """A failed or interrupted deployment continues; a finished one is planned again (a new
    deployment with the same goal and options)."""
    deployment = get_deployment(deployment_id)
    if deployment.status in (Status.FAILED, Status.INTERRUPTED, Status.PAUSED):
        return resume(deployment_id, actor=actor, user_id=user_id, backend=backend)
    if deployment.status not in FINISHED:
        raise OperationFailed(f"deployment #{deployment.pk} is {deployment.status}: not finished")
    from .deployments import apply, rollback

    goal = deployment.goal_version or None
    if deployment.direction == "forward":
        options = deployment.options
        return apply(
            deployment.database,
            actor=actor,
            user_id=user_id,
            to=goal,
            dry_run=deployment.dry_run,
            backend=backend or deployment.backend or None,
            backup=options.get("backup"),
            auto_rollback=options.get("auto_rollback"),
            allow_partial_rollback=bool(options.get("allow_partial_rollback")),
            params=options.get("params"),
        )
    return rollback(
        deployment.database,
        actor=actor,
        user_id=user_id,
        to=goal,
        count=None if goal else deployment.runs.filter(direction="backward").count() or 1,
        dry_run=deployment.dry_run,
        backend=backend or deployment.backend or None,
    )


def cancel(
    deployment_id: int, *, actor: str, user_id: Any = None, backend: str | None = None
) -> Deployment:
    """Stop a deployment; the migration it was in the middle of is undone."""
    deployment = get_deployment(deployment_id)
    if deployment.status in FINISHED:
        raise OperationFailed(f"deployment #{deployment.pk} is already {deployment.status}")
    # One transaction: the request, its event and its effect together.
    with state_atomic():
        untouched = not deployment.runs.exclude(status=Status.PENDING).exists()
        nobody = {Status.PENDING, Status.AWAITING_APPROVAL}
        if untouched:
            nobody.add(Status.QUEUED)
        audit.record(
            "cancel_requested",
            f"deployment #{deployment.pk}: cancel requested",
            actor=actor,
            database=deployment.database,
            deployment=deployment,
        )
        # Nothing started: done at once (a job that starts later finds it cancelled).
        done = compare_and_set(
            deployment,
            nobody,
            Status.CANCELLED,
            actor=actor,
            user_id=user_id,
            message=f"cancelled by {actor} before it started",
        )
        if done:
            journal = Journal(deployment, actor=actor, user_id=user_id)
            for run in deployment.runs.filter(status=Status.PENDING).select_related("migration"):
                journal.transition(run, Status.CANCELLED)
            journal.flush()
        else:
            Deployment.objects.filter(pk=deployment.pk).update(cancel_requested=True)
    deployment.refresh_from_db()
    if done:
        return deployment
    if deployment.status in (Status.PAUSED, Status.INTERRUPTED):
        # Nobody is working on it: a worker must undo the half-done run.
        return _requeue(
            deployment,
            {Status.PAUSED, Status.INTERRUPTED},
            actor=actor,
            user_id=user_id,
            backend=backend,
            message=f"cancel by {actor}: a worker undoes the migration in progress",
            phase=Phase.CANCEL,
            pause_requested=False,
        )
    return deployment


def wait(deployment_id: int, poll: float = 0.2, timeout: float | None = None) -> Deployment:
    """Block until the deployment stops moving (finished, paused, interrupted, held)."""
    started = time.monotonic()
    while True:
        deployment = get_deployment(deployment_id)
        if deployment.status in STOPPED:
            return deployment
        if timeout is not None and time.monotonic() - started > timeout:
            return deployment
        time.sleep(poll)
