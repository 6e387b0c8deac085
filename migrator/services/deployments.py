"""Creating deployments from plans and starting them: apply, roll back, dry runs, approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from .. import audit
from ..backends import get_backend
from ..catalog.sync import SyncReport, sync_catalog, sync_lock
from ..conf import BACKUP_MODES, RISKS, migrator_settings
from ..dialects import state_atomic
from ..engine import rows
from ..engine.journal import compare_and_set, record_transition
from ..engine.locks import worker_id
from ..engine.specs import planned_catalog
from ..exceptions import BadInput, OperationFailed
from ..models import Deployment, Migration, Run
from ..states import Status
from .common import holder
from .lint import check_gate, lint_plan, worth_linting
from .planning import PARTIAL, Plan, plan


def create_deployment(
    result: Plan,
    *,
    actor: str,
    user_id: Any = None,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    on_created: Callable[[Deployment], None] | None = None,
) -> Deployment:
    """Record the plan as a pending deployment with its runs (all or nothing);
    ``on_created`` records more about it in the same transaction.

    The target must still be free when the deployment is created: two requests planned
    at the same moment cannot both get a deployment.
    """
    options = dict(options or {})
    backup = options.get("backup", migrator_settings.BACKUP)
    if backup not in BACKUP_MODES:
        raise BadInput(f"unknown backup mode {backup!r}: use one of {', '.join(BACKUP_MODES)}")
    options["backup"] = backup
    options["backup_versions"] = result.backup_versions
    options["atomic"] = result.atomic
    summary = result.as_dict()
    with state_atomic():
        assert result.catalog is not None
        with sync_lock():
            busy = holder(result.database)
            if busy:
                raise OperationFailed(f"{result.database} is busy: {busy}")
            sync_catalog(result.catalog, actor=actor)
        # Below the ORM (as its runs are): the plan's JSON, hundreds of kilobytes for a
        # big deployment, then goes as a statement's parameter, not quoted into its text.
        deployment = rows.build(
            Deployment,
            database=result.database,
            direction=result.direction,
            goal_version=result.goal or "",
            requested_by=actor,
            requested_by_user_id=user_id,
            dry_run=dry_run,
            options=options,
            plan=summary,
            risk=result.risk,
        )
        rows.create_with_history([deployment], reason="requested", user_id=user_id)
        versions = [planned.version for planned in result.runs]
        keys = dict(
            Migration.objects.filter(database=result.database, version__in=versions).values_list(
                "version", "pk"
            )
        )
        rows.create_with_history(
            [
                rows.build(
                    Run,
                    deployment=deployment,
                    migration_id=keys[planned.version],
                    order=order,
                    direction=planned.direction,
                )
                for order, planned in enumerate(result.runs, start=1)
            ],
            reason="planned",
            user_id=user_id,
        )
        audit.record(
            "deployment_created",
            f"deployment #{deployment.pk}: {result.direction} {result.database} to "
            f"{result.goal or 'latest'}{' (dry run)' if dry_run else ''}, "
            f"{len(result.runs)} migrations",
            actor=actor,
            database=result.database,
            deployment=deployment,
            plan=result.outline(),
        )
        if on_created is not None:
            on_created(deployment)
    return deployment


def enqueue(
    deployment: Deployment,
    backend: str | None = None,
    *,
    actor: str | None = None,
    user_id: Any = None,
) -> str:
    """Queue the deployment once the surrounding transaction (if any) has committed."""
    chosen = get_backend(backend)
    record_transition(
        deployment,
        Status.QUEUED,
        actor=actor,
        user_id=user_id,
        backend=backend or migrator_settings.BACKEND,
        # A job that lives in this process (thread, inline) is gone when this process is.
        worker="" if chosen.detached else worker_id(),
    )
    job: dict[str, str] = {}

    def send() -> None:
        job["id"] = chosen.enqueue(deployment.pk)
        Deployment.objects.filter(pk=deployment.pk).update(job_id=job["id"])

    transaction.on_commit(send, using=router.db_for_write(Deployment))
    deployment.refresh_from_db()
    return job.get("id", "")


def needs_approval(deployment: Deployment) -> bool:
    """Whether the approval gate holds this deployment (setting ``APPROVAL_RISK``)."""
    if deployment.dry_run:
        return False
    threshold = migrator_settings.APPROVAL_RISK
    if deployment.direction == "backward" and migrator_settings.APPROVE_ROLLBACKS:
        return True
    if threshold is None or threshold not in RISKS:
        return False
    return RISKS.index(deployment.risk or "low") >= RISKS.index(threshold)


def start(
    result: Plan,
    *,
    actor: str,
    user_id: Any = None,
    dry_run: bool,
    backend: str | None,
    options: dict[str, Any],
    on_created: Callable[[Deployment], None] | None = None,
) -> Deployment:
    """Create the deployment and queue it (or hold it for approval)."""
    deployment = create_deployment(
        result,
        actor=actor,
        user_id=user_id,
        dry_run=dry_run,
        options=options,
        on_created=on_created,
    )
    if not result.runs:
        record_transition(deployment, Status.SUCCEEDED, message="nothing to do", actor=actor)
    elif needs_approval(deployment):
        record_transition(
            deployment,
            Status.AWAITING_APPROVAL,
            actor=actor,
            user_id=user_id,
            message=f"risk {deployment.risk}: waits for another user's approval",
        )
        options_backend = backend or migrator_settings.BACKEND
        Deployment.objects.filter(pk=deployment.pk).update(backend=options_backend)
    else:
        assert result.catalog is not None
        # An inline backend executes right here: no need to read the folders again.
        with planned_catalog(result.catalog):
            enqueue(deployment, backend, actor=actor, user_id=user_id)
        return deployment  # refreshed by enqueue
    deployment.refresh_from_db()
    return deployment


def apply(
    database: str,
    *,
    actor: str,
    user_id: Any = None,
    to: str | None = None,
    dry_run: bool = False,
    backend: str | None = None,
    backup: str | None = None,
    auto_rollback: bool | None = None,
    atomic: bool | None = None,
    allow_partial_rollback: bool = False,
    params: dict[str, Any] | None = None,
    lint_override: str | None = None,
) -> Deployment:
    """Plan and start moving ``database`` forward (to ``to`` or the latest version).

    With ``LINT_GATE`` on, blocking lint findings refuse it unless ``lint_override`` says
    why they are accepted (recorded on the deployment and as an event)."""
    result = plan(
        database,
        to=to,
        direction="forward",
        atomic=atomic,
        auto_rollback=auto_rollback,
        backup=backup,
    )
    if result.guarantee == PARTIAL and not allow_partial_rollback and not dry_run:
        raise OperationFailed(
            f"{', '.join(result.uncovered)} on {database} cannot be undone (no backward part, "
            "and a backup would not restore them): if a later step failed, the automatic "
            "rollback would stop there. Add the backward parts, or pass "
            "--allow-partial-rollback (or --no-auto-rollback) to accept that."
        )
    linted = lint_plan(result) if not dry_run and worth_linting(result) else None
    overridden = None if linted is None else check_gate(result, lint_override, linted)
    options: dict[str, Any] = {"params": params or {}}
    if overridden is not None:
        options["lint_override"] = {
            "reason": str(lint_override).strip(),
            "findings": [f"{f.check.id} {f.version}" for f in overridden.blocking],
        }
    if backup is not None:
        options["backup"] = backup
    if auto_rollback is not None:
        options["auto_rollback"] = auto_rollback
    if allow_partial_rollback:
        options["allow_partial_rollback"] = True
    accepted = [f for f in (linted.findings if linted else []) if f.suppressed]

    def record_lint(deployment: Deployment) -> None:
        # With the deployment, in its transaction: never a deployment without them.
        if overridden is not None:
            override = options["lint_override"]
            audit.record(
                "lint_overridden",
                f"deployment #{deployment.pk}: lint findings {', '.join(override['findings'])} "
                f"accepted by {actor}: {override['reason']}",
                actor=actor,
                database=database,
                deployment=deployment,
                level="warning",
            )
        if accepted:
            # Findings accepted by an ignore comment in a migration: who applied them, and why.
            audit.record(
                "lint_suppressed",
                f"deployment #{deployment.pk}: "
                + "; ".join(f"{f.check.id} in {f.version} ({f.suppressed})" for f in accepted),
                actor=actor,
                database=database,
                deployment=deployment,
            )

    return start(
        result,
        actor=actor,
        user_id=user_id,
        dry_run=dry_run,
        backend=backend,
        options=options,
        on_created=record_lint,
    )


def rollback(
    database: str,
    *,
    actor: str,
    user_id: Any = None,
    to: str | None = None,
    count: int | None = None,
    dry_run: bool = False,
    backend: str | None = None,
) -> Deployment:
    """Plan and start rolling ``database`` back to ``to`` or by ``count`` migrations."""
    result = plan(database, to=to, direction="backward", count=count)
    return start(result, actor=actor, user_id=user_id, dry_run=dry_run, backend=backend, options={})


def approve(deployment_id: int, *, actor: str, user_id: Any = None) -> Deployment:
    """Let a deployment that waits for approval go; the approver must not be its requester."""
    from .control import get_deployment

    deployment = get_deployment(deployment_id)
    if deployment.status != Status.AWAITING_APPROVAL:
        raise OperationFailed(
            f"deployment #{deployment.pk} is {deployment.status}: nothing to approve"
        )
    same_user = user_id is not None and user_id == deployment.requested_by_user_id
    if same_user or actor == deployment.requested_by:
        raise OperationFailed(
            f"deployment #{deployment.pk} was requested by {deployment.requested_by}: "
            "another user must approve it"
        )
    Deployment.objects.filter(pk=deployment.pk).update(
        approved_by=actor, approved_at=timezone.now()
    )
    audit.record(
        "approved",
        f"deployment #{deployment.pk}: approved by {actor}",
        actor=actor,
        database=deployment.database,
        deployment=deployment,
    )
    deployment.refresh_from_db()
    enqueue(deployment, deployment.backend or None, actor=actor, user_id=user_id)
    deployment.refresh_from_db()
    return deployment


def reject(deployment_id: int, *, actor: str, reason: str, user_id: Any = None) -> Deployment:
    """Refuse a deployment that waits for approval (audited with the reason)."""
    from .control import get_deployment

    deployment = get_deployment(deployment_id)
    if not compare_and_set(
        deployment,
        {Status.AWAITING_APPROVAL},
        Status.CANCELLED,
        actor=actor,
        user_id=user_id,
        message=f"rejected by {actor}: {reason}",
    ):
        raise OperationFailed(f"deployment #{deployment.pk} is not awaiting approval")
    deployment.refresh_from_db()
    return deployment


__all__ = [
    "SyncReport",
    "apply",
    "approve",
    "create_deployment",
    "enqueue",
    "needs_approval",
    "reject",
    "rollback",
    "start",
]
