"""Deployment operations: plan, apply, roll back, dry run, control, recovery."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from .. import audit
from ..backends import get_backend
from ..catalog import Catalog, load_catalog
from ..catalog.sync import sync_catalog
from ..catalog.versions import key_of
from ..conf import BACKUP_MODES, migrator_settings
from ..engine import backups, locks
from ..engine.reversibility import latest_forward_run, obstacles
from ..engine.target import Target
from ..engine.transitions import set_status
from ..exceptions import BadInput, OperationFailed
from ..models import Backup, Deployment, Migration, Run, TargetLock
from ..states import FINISHED, UNFINISHED, Status
from .catalog_ops import _check_database, _require_tables, _states


@dataclass
class PlannedRun:
    version: str
    name: str
    direction: str
    source: str
    steps: list[dict[str, Any]]
    restore_backup: int | None = None


@dataclass
class Plan:
    """What a deployment would do, in order, after every preflight check passed."""

    database: str
    direction: str
    goal: str | None
    runs: list[PlannedRun] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    catalog: Catalog | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "direction": self.direction,
            "goal": self.goal,
            "runs": [asdict(r) for r in self.runs],
            "warnings": self.warnings,
        }


def _holder(database: str) -> str | None:
    """Who keeps ``database`` busy: a live lock or an unfinished deployment."""
    lock = TargetLock.objects.filter(database=database).first()
    if lock is not None:
        return locks.describe(lock)
    busy = Deployment.objects.filter(database=database, status__in=list(UNFINISHED)).first()
    if busy is not None:
        return f"deployment #{busy.pk} ({busy.status}, requested by {busy.requested_by})"
    return None


def _step_summary(spec: Any, direction: str) -> list[dict[str, Any]]:
    steps = list(enumerate(spec.steps, start=1))
    if direction == "backward":
        steps.reverse()
    summary = []
    for order, step in steps:
        entry: dict[str, Any] = {
            "order": order,
            "name": step.name,
            "kind": step.kind,
            "transaction": step.transactional,
        }
        if step.kind in ("sql", "validate"):
            entry["sql"] = step.forward if direction == "forward" else step.backward
        elif step.kind == "transform":
            entry["spec"] = step.forward
        elif step.kind == "python":
            entry["callable"] = (
                step.forward
                if direction == "forward"
                else (step.backward or "restore captured values")
            )
        summary.append(entry)
    return summary


def plan(
    database: str, *, to: str | None = None, direction: str = "forward", count: int | None = None
) -> Plan:
    """The ordered migrations for moving ``database``; raises if a preflight check fails."""
    _require_tables()
    _check_database(database)
    if direction not in ("forward", "backward"):
        raise BadInput(f"direction must be forward or backward, not {direction!r}")
    if count is not None and (direction == "forward" or to is not None):
        raise BadInput("--steps is for a rollback without --to: give --to or --steps, not both")
    if count is not None and count < 1:
        raise BadInput("--steps must be 1 or more")
    catalog = load_catalog()
    states = _states(catalog, database)
    drifted = [s for s in states if s.state == "drifted"]
    if drifted:
        names = ", ".join(f"{s.version} ({s.source})" for s in drifted)
        raise OperationFailed(
            f"drifted migrations on {database}: {names}; restore them or run `migrator repair`"
        )
    holder = _holder(database)
    if holder:
        raise OperationFailed(f"{database} is busy: {holder}")
    result = Plan(database=database, direction=direction, goal=to, catalog=catalog)
    if (
        to is not None
        and catalog.get(database, to) is None
        and not Migration.objects.filter(database=database, version=to).exists()
    ):
        known = [s.version for s in states]
        raise BadInput(f"unknown version {to!r} for database {database!r}; known: {known}")
    if direction == "forward":
        _plan_forward(result, catalog, states, to)
    else:
        _plan_backward(result, catalog, states, to, count)
    return result


def _plan_forward(result: Plan, catalog: Catalog, states: list[Any], to: str | None) -> None:
    applied = {s.version for s in states if s.state == "applied"}
    if to is not None and to in applied:
        current = max((key_of(v) for v in applied), default=None)
        if current is not None and key_of(to) < current:
            raise BadInput(
                f"{to} is already applied and older than the current version: use `migrator rollback --to {to}`"
            )
    planned: set[str] = set()
    for state in states:
        if state.state != "pending" or (to is not None and key_of(state.version) > key_of(to)):
            continue
        spec = catalog.get(result.database, state.version)
        assert spec is not None
        missing = [d for d in spec.depends_on or [] if d not in applied and d not in planned]
        if missing:
            raise OperationFailed(
                f"{spec.version} depends on {', '.join(missing)}, which is neither applied nor planned"
            )
        if state.out_of_order:
            result.warnings.append(
                f"{spec.version} is older than the current version (out of order)"
            )
        planned.add(spec.version)
        result.runs.append(
            PlannedRun(
                spec.version, spec.name, "forward", str(spec.source), _step_summary(spec, "forward")
            )
        )


def _plan_backward(
    result: Plan, catalog: Catalog, states: list[Any], to: str | None, count: int | None
) -> None:
    applied = [s for s in states if s.state in ("applied", "missing")]
    if to is not None:
        chosen = [s for s in applied if key_of(s.version) > key_of(to)]
    else:
        chosen = applied[-(count or 1) :] if applied else []
    target = Target(result.database)
    for state in reversed(chosen):
        if state.state == "missing":
            raise OperationFailed(
                f"{state.version} cannot be rolled back: its file {state.source} is gone"
            )
        spec = catalog.get(result.database, state.version)
        assert spec is not None
        migration = Migration.objects.get(database=result.database, version=spec.version)
        problems = obstacles(migration, spec, target)
        backup = None
        if problems:
            backup = (
                Backup.objects.filter(
                    run__migration=migration, run__direction="forward", restored_at__isnull=True
                )
                .order_by("-created_at")
                .first()
            )
            if backup is None:
                raise OperationFailed(
                    f"{spec.version} ({spec.source}) cannot be rolled back: "
                    + "; ".join(problems)
                    + ". No backup of it exists either."
                )
            result.warnings.append(
                f"{spec.version}: {'; '.join(problems)}: backup #{backup.pk} will be restored"
            )
        result.runs.append(
            PlannedRun(
                spec.version,
                spec.name,
                "backward",
                str(spec.source),
                _step_summary(spec, "backward"),
                backup.pk if backup else None,
            )
        )


def create_deployment(
    result: Plan, *, actor: str, dry_run: bool = False, options: dict[str, Any] | None = None
) -> Deployment:
    """Record the plan as a pending deployment with its runs (all or nothing)."""
    options = dict(options or {})
    backup = options.get("backup", migrator_settings.BACKUP)
    if backup not in BACKUP_MODES:
        raise BadInput(f"unknown backup mode {backup!r}: use one of {', '.join(BACKUP_MODES)}")
    options["backup"] = backup
    with transaction.atomic(using=router.db_for_write(Deployment)):
        assert result.catalog is not None
        sync_catalog(result.catalog, actor=actor)
        deployment = Deployment.objects.create(
            database=result.database,
            direction=result.direction,
            goal_version=result.goal or "",
            requested_by=actor,
            dry_run=dry_run,
            options=options,
        )
        versions = [planned.version for planned in result.runs]
        migrations = {
            m.version: m
            for m in Migration.objects.filter(database=result.database, version__in=versions)
        }
        bulk_create_with_history(
            [
                Run(
                    deployment=deployment,
                    migration=migrations[planned.version],
                    order=order,
                    direction=planned.direction,
                )
                for order, planned in enumerate(result.runs, start=1)
            ],
            Run,
            default_change_reason="planned",
        )
        audit.record(
            "deployment_created",
            f"deployment #{deployment.pk}: {result.direction} {result.database} to "
            f"{result.goal or 'latest'}{' (dry run)' if dry_run else ''}, {len(result.runs)} migrations",
            actor=actor,
            database=result.database,
            deployment=deployment,
            plan=result.as_dict(),
        )
    return deployment


def enqueue(deployment: Deployment, backend: str | None = None) -> str:
    """Queue the deployment once the surrounding transaction (if any) has committed."""
    chosen = get_backend(backend)
    set_status(deployment, Status.QUEUED, backend=chosen.name)
    job: dict[str, str] = {}

    def send() -> None:
        job["id"] = chosen.enqueue(deployment.pk)
        Deployment.objects.filter(pk=deployment.pk).update(job_id=job["id"])

    transaction.on_commit(send, using=router.db_for_write(Deployment))
    deployment.refresh_from_db()
    return job.get("id", "")


def _start(
    result: Plan, *, actor: str, dry_run: bool, backend: str | None, options: dict[str, Any]
) -> Deployment:
    deployment = create_deployment(result, actor=actor, dry_run=dry_run, options=options)
    if result.runs:
        enqueue(deployment, backend)
    else:
        set_status(deployment, Status.SUCCEEDED, message="nothing to do")
    deployment.refresh_from_db()
    return deployment


def apply(
    database: str,
    *,
    actor: str,
    to: str | None = None,
    dry_run: bool = False,
    backend: str | None = None,
    backup: str | None = None,
    auto_rollback: bool | None = None,
    params: dict[str, Any] | None = None,
) -> Deployment:
    """Plan and start moving ``database`` forward (to ``to`` or the latest version)."""
    result = plan(database, to=to, direction="forward")
    options: dict[str, Any] = {"params": params or {}}
    if backup is not None:
        options["backup"] = backup
    if auto_rollback is not None:
        options["auto_rollback"] = auto_rollback
    return _start(result, actor=actor, dry_run=dry_run, backend=backend, options=options)


def rollback(
    database: str,
    *,
    actor: str,
    to: str | None = None,
    count: int | None = None,
    dry_run: bool = False,
    backend: str | None = None,
) -> Deployment:
    """Plan and start rolling ``database`` back to ``to`` or by ``count`` migrations."""
    result = plan(database, to=to, direction="backward", count=count)
    return _start(result, actor=actor, dry_run=dry_run, backend=backend, options={})


def _deployment(deployment_id: int) -> Deployment:
    try:
        return Deployment.objects.get(pk=deployment_id)
    except Deployment.DoesNotExist:
        raise BadInput(f"no deployment #{deployment_id}") from None


def pause(deployment_id: int, *, actor: str) -> Deployment:
    """Ask a running deployment to pause at its next batch or step boundary."""
    deployment = _deployment(deployment_id)
    if deployment.status not in (Status.QUEUED, Status.RUNNING):
        raise OperationFailed(
            f"deployment #{deployment.pk} is {deployment.status}: only queued or running ones pause"
        )
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


def resume(deployment_id: int, *, actor: str, backend: str | None = None) -> Deployment:
    """Continue a paused, interrupted or failed deployment from its checkpoint."""
    deployment = _deployment(deployment_id)
    if deployment.status not in (Status.PAUSED, Status.INTERRUPTED, Status.FAILED):
        raise OperationFailed(
            f"deployment #{deployment.pk} is {deployment.status}: nothing to resume"
        )
    if (
        deployment.status == Status.FAILED
        and deployment.runs.filter(status=Status.ROLLED_BACK).exists()
    ):
        raise OperationFailed(f"deployment #{deployment.pk} was rolled back: plan a new one")
    Deployment.objects.filter(pk=deployment.pk).update(
        pause_requested=False, cancel_requested=False
    )
    deployment.refresh_from_db()
    audit.record(
        "resume",
        f"deployment #{deployment.pk}: resumed",
        actor=actor,
        database=deployment.database,
        deployment=deployment,
    )
    enqueue(deployment, backend or deployment.backend or None)
    deployment.refresh_from_db()
    return deployment


def cancel(deployment_id: int, *, actor: str, backend: str | None = None) -> Deployment:
    """Stop a deployment; the migration it was in the middle of is undone."""
    deployment = _deployment(deployment_id)
    if deployment.status in FINISHED:
        raise OperationFailed(f"deployment #{deployment.pk} is already {deployment.status}")
    Deployment.objects.filter(pk=deployment.pk).update(cancel_requested=True)
    audit.record(
        "cancel_requested",
        f"deployment #{deployment.pk}: cancel requested",
        actor=actor,
        database=deployment.database,
        deployment=deployment,
    )
    deployment.refresh_from_db()
    if deployment.status == Status.PENDING:
        set_status(deployment, Status.CANCELLED, cancel_requested=False)
    elif deployment.status in (Status.PAUSED, Status.INTERRUPTED):
        # Nobody is working on it: a worker must undo the half-done run.
        set_status(deployment, Status.CANCELLING)
        chosen = get_backend(backend or deployment.backend or None)
        transaction.on_commit(
            lambda: chosen.enqueue(deployment.pk), using=router.db_for_write(Deployment)
        )
    deployment.refresh_from_db()
    return deployment


def recover(*, actor: str) -> list[int]:
    """Mark runs whose worker died (stale heartbeat) interrupted, and free their locks."""
    threshold = timezone.now() - timedelta(seconds=migrator_settings.STALE_AFTER_SECONDS)
    stale = Run.objects.filter(
        status__in=[Status.RUNNING, Status.PAUSING, Status.CANCELLING, Status.ROLLING_BACK]
    ).filter(Q(heartbeat_at__lt=threshold) | Q(heartbeat_at__isnull=True, started_at__lt=threshold))
    recovered: list[int] = []
    for run in stale.select_related("deployment", "migration"):
        deployment = run.deployment
        if (
            locks.advisory_lock_is_held(Target(deployment.database))
            and TargetLock.objects.filter(deployment=deployment).exists()
        ):
            continue  # a live PostgreSQL session still holds the target: the worker is alive
        set_status(run, Status.INTERRUPTED, message="heartbeat is stale: worker gone")
        if deployment.status not in FINISHED and deployment.status != Status.INTERRUPTED:
            set_status(
                deployment,
                Status.INTERRUPTED,
                message=f"run {run.migration.version} lost its worker",
            )
        TargetLock.objects.filter(deployment=deployment).delete()
        recovered.append(deployment.pk)
    if recovered:
        audit.record(
            "recover", f"interrupted deployments {recovered}", actor=actor, deployments=recovered
        )
    return recovered


def unlock(database: str, *, actor: str, force: bool = False) -> bool:
    """Remove a stale lock row (audited). A live lock needs ``force``; a held PG lock never goes."""
    _check_database(database)
    lock = TargetLock.objects.filter(database=database).first()
    if lock is None:
        return False
    if locks.advisory_lock_is_held(Target(database)):
        raise OperationFailed(
            f"{database} is held by a live PostgreSQL session ({locks.describe(lock)})"
        )
    if not force and not locks.is_stale(lock):
        raise OperationFailed(
            f"{database} lock is live: {locks.describe(lock)}; pass --force if that worker is gone"
        )
    description = locks.describe(lock)
    lock.delete()
    audit.record(
        "unlock",
        f"{database}: removed lock of {description}",
        actor=actor,
        database=database,
        forced=force,
    )
    return True


def wait(deployment_id: int, poll: float = 0.5, timeout: float | None = None) -> Deployment:
    """Block until the deployment stops moving (finished, paused or interrupted)."""
    import time

    started = time.monotonic()
    while True:
        deployment = _deployment(deployment_id)
        if deployment.status in FINISHED or deployment.status in (
            Status.PAUSED,
            Status.INTERRUPTED,
        ):
            return deployment
        if timeout is not None and time.monotonic() - started > timeout:
            return deployment
        time.sleep(poll)


_CAPTURE = re.compile(r"^migrator_cap_r(\d+)_s\d+_")


def prune(*, actor: str, keep: int = 5) -> dict[str, list[Any]]:
    """Drop backups beyond the newest ``keep`` per target, and captured values nobody can
    use any more (runs that were rolled back or superseded)."""
    if keep < 0:
        raise BadInput("--keep must be 0 or more")
    removed: dict[str, list[Any]] = {"backups": [], "captures": []}
    databases = set(Backup.objects.values_list("database", flat=True)) | set(
        Migration.objects.values_list("database", flat=True)
    )
    for database in sorted(databases):
        target = Target(database)
        for backup in Backup.objects.filter(database=database).order_by("-created_at")[keep:]:
            removed["backups"].append(backup.pk)
            backups.drop(target, backup)
        live = {
            run.pk
            for run in (
                latest_forward_run(m)
                for m in Migration.objects.filter(database=database, applied=True)
            )
            if run is not None
        } | set(
            Run.objects.filter(deployment__status__in=list(UNFINISHED)).values_list("pk", flat=True)
        )
        with target.connection.cursor() as cursor:
            names = target.connection.introspection.table_names(cursor)
        for name in names:
            match = _CAPTURE.match(name)
            if match and int(match.group(1)) not in live:
                target.drop_table(name)
                removed["captures"].append(f"{database}:{name}")
    if removed["backups"] or removed["captures"]:
        audit.record(
            "prune",
            f"pruned {len(removed['backups'])} backups, {len(removed['captures'])} captures",
            actor=actor,
            backups=removed["backups"],
            captures=removed["captures"],
        )
    return removed
