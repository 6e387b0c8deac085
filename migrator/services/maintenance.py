"""Keeping targets healthy: recover dead workers' deployments, unlock, prune, restore backups."""

from __future__ import annotations

import re
import time
from typing import Any

from .. import audit
from ..backends import get_backend
from ..dialects import dialect_for, state_atomic
from ..engine import backups, locks
from ..engine.coverage import applying_run
from ..engine.journal import Journal, compare_and_set
from ..engine.target import Target
from ..exceptions import BadInput, OperationFailed
from ..models import Backup, Deployment, Migration, Run, StepRun, TargetLock
from ..states import ACTIVE, FINISHED, UNFINISHED, Status
from .common import check_database

_IN_FLIGHT = (Status.RUNNING, Status.PAUSING, Status.CANCELLING, Status.ROLLING_BACK)


#: How long a session whose worker process died may keep its lock before it counts as
#: somebody else's (PostgreSQL notices a closed client connection within moments).
ORPHAN_GRACE_SECONDS = 10.0


def _still_held(target: Target, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not locks.advisory_lock_is_held(target):
            return False
        time.sleep(0.1)
    return True


def worker_alive(deployment: Deployment) -> bool:
    """Whether somebody still works on (or will pick up) an active deployment.

    Queued and never claimed: its backend tells whether the job can still start. Claimed:
    with an advisory lock (PostgreSQL), whether a session of the target's database holds
    it; else its worker process (same host), or a fresh heartbeat (another host).
    """
    if deployment.status == Status.QUEUED:
        alive = get_backend(deployment.backend or None).job_alive(deployment)
        return alive is not False
    target = Target(deployment.database)
    if target.dialect.advisory_locks:
        held = locks.advisory_lock_is_held(target)
        if held and deployment.worker and locks.process_alive(deployment.worker) is False:
            # Its process is gone but its session still holds the lock: PostgreSQL ends
            # such a session as soon as it notices the closed connection, moments later.
            held = _still_held(target, ORPHAN_GRACE_SECONDS)
        holder = TargetLock.objects.filter(database=deployment.database).first()
        return held and (holder is None or holder.deployment_id == deployment.pk)
    if deployment.worker:
        alive = locks.process_alive(deployment.worker)
        if alive is not None:
            return alive
    return not locks.is_stale(deployment.heartbeat_at)


def recover(*, actor: str, user_id: Any = None) -> list[int]:
    """Mark every active deployment whose worker is gone ``interrupted``, with its runs and
    step runs in flight, and free its lock; ``resume`` or ``cancel`` then take it on."""
    recovered: list[int] = []
    for deployment in Deployment.objects.filter(status__in=list(ACTIVE)).order_by("pk"):
        if worker_alive(deployment):
            continue
        observed = deployment.status
        with state_atomic():
            if not compare_and_set(
                deployment,
                {observed},
                Status.INTERRUPTED,
                actor=actor,
                user_id=user_id,
                message="its worker is gone",
                level="warning",
            ):
                continue  # it moved meanwhile: somebody is alive after all
            journal = Journal(deployment, actor=actor, user_id=user_id)
            for run in deployment.runs.filter(status__in=_IN_FLIGHT).select_related("migration"):
                for step_run in StepRun.objects.filter(run=run, status=Status.RUNNING):
                    step_run.run = run
                    journal.transition(step_run, Status.INTERRUPTED, message="worker gone")
                journal.transition(run, Status.INTERRUPTED, message="worker gone")
            journal.flush()
            TargetLock.objects.filter(deployment=deployment).delete()
        recovered.append(deployment.pk)
    if recovered:
        audit.record(
            "recover", f"interrupted deployments {recovered}", actor=actor, deployments=recovered
        )
    return recovered


def unlock(database: str, *, actor: str, force: bool = False) -> bool:
    """Remove a lock row whose holder is gone (audited); a live one needs ``force``, and a
    PostgreSQL lock a live session holds is never removed."""
    check_database(database)
    lock = TargetLock.objects.filter(database=database).first()
    if lock is None:
        return False
    target = Target(database)
    if locks.advisory_lock_is_held(target):
        raise OperationFailed(
            f"{database} is held by a live PostgreSQL session ({locks.describe(lock)})"
        )
    if not force and locks.lock_holder_alive(lock):
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


_CAPTURE = re.compile(r"^migrator_cap_r(\d+)_s\d+_")


def prune(*, actor: str, keep: int = 5) -> dict[str, list[Any]]:
    """Drop backups beyond the newest ``keep`` per target, captured values nobody can use
    any more (runs rolled back or superseded), and finished runs' checkpoints."""
    if keep < 0:
        raise BadInput("--keep must be 0 or more")
    removed: dict[str, list[Any]] = {"backups": [], "captures": [], "checkpoints": []}
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
                applying_run(m) for m in Migration.objects.filter(database=database, applied=True)
            )
            if run is not None
        } | set(
            Run.objects.filter(deployment__status__in=list(UNFINISHED)).values_list("pk", flat=True)
        )
        dialect = dialect_for(database)
        for name in dialect.table_names():
            match = _CAPTURE.match(name)
            if match and int(match.group(1)) not in live:
                dialect.drop_table(name)
                removed["captures"].append(f"{database}:{name}")
        finished = list(
            Run.objects.filter(deployment__database=database, deployment__status__in=list(FINISHED))
            .exclude(pk__in=live)
            .values_list("pk", flat=True)
        )
        if dialect.delete_checkpoints(finished):
            removed["checkpoints"].append(database)
    if any(removed.values()):
        audit.record(
            "prune",
            f"pruned {len(removed['backups'])} backups, {len(removed['captures'])} captures",
            actor=actor,
            backups=removed["backups"],
            captures=removed["captures"],
            checkpoints=removed["checkpoints"],
        )
    return removed


def restore_backup(backup_id: int, *, actor: str) -> Backup:
    """Put a backup's tables back (verified first); the target must not be busy."""
    from .common import holder

    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is None:
        raise BadInput(f"no backup #{backup_id}")
    if backup.restored_at is not None:
        raise OperationFailed(f"backup #{backup.pk} was restored already ({backup.restored_at})")
    busy = holder(backup.database)
    if busy:
        raise OperationFailed(f"{backup.database} is busy: {busy}")
    backups.restore(Target(backup.database), backup, actor=actor)
    backup.refresh_from_db()
    return backup
