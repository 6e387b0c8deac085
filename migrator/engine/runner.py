"""Executing a deployment: run by run, step by step, with checkpoints and rollback.

Entry point: :func:`execute` with a deployment's primary key. Any worker can call it for
any deployment: everything it needs, including where to resume, is in the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db.models import Max
from django.utils import timezone

from .. import audit
from ..catalog import Catalog, MigrationSpec, StepSpec, load_catalog
from ..catalog import checksum as checksums
from ..conf import migrator_settings
from ..models import Backup, Deployment, Migration, Run, StepRun
from ..states import FINISHED, Status
from . import backups, control, locks, schema_versions
from .control import CancelRequested, PauseRequested
from .execution import StepExecution, StepFailed
from .progress import Reporter, current_reporter
from .reversibility import latest_forward_run, obstacles
from .steps import KINDS
from .target import Target
from .transitions import set_status

logger = logging.getLogger("migrator")


class RunFailed(Exception):
    """A step failed for good (after retries); carries the message to record."""


def execute(deployment_id: int, reporter: Reporter | None = None) -> Deployment:
    """Run (or resume) a deployment to its end, a pause, a cancel or a failure."""
    reporter = reporter or current_reporter()
    deployment = Deployment.objects.get(pk=deployment_id)
    if deployment.status in FINISHED:
        return deployment
    if deployment.dry_run:
        from .dryrun import execute_dry_run

        with one_catalog():
            return execute_dry_run(deployment, reporter)
    target = Target(deployment.database)
    try:
        with locks.hold(target, deployment), one_catalog():
            _drive(deployment, target, reporter)
    except locks.LockHeld as exc:
        deployment.refresh_from_db()
        set_status(deployment, Status.FAILED, message=str(exc), level="error", error=str(exc))
    finally:
        control.forget(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def _drive(deployment: Deployment, target: Target, reporter: Reporter | None) -> None:
    deployment.refresh_from_db()
    resuming_cancel = deployment.status == Status.CANCELLING
    if not resuming_cancel:
        set_status(deployment, Status.RUNNING)
    current: Run | None = None
    try:
        if deployment.cancel_requested:
            raise CancelRequested
        runs = (
            deployment.runs.select_related("migration")
            .prefetch_related("step_runs", "migration__steps")
            .order_by("order")
        )
        with control.Heartbeat(deployment.database) as heartbeat:
            for run in runs:
                if run.status in (Status.SUCCEEDED, Status.ROLLED_BACK, Status.CANCELLED):
                    continue
                current = heartbeat.run = run
                _execute_run(run, deployment, target, reporter)
        current = None
        schema_versions.record(deployment, target)
        set_status(deployment, Status.SUCCEEDED)
    except PauseRequested:
        _pause(deployment, current)
    except CancelRequested:
        _cancel(deployment, current, target, reporter)
    except RunFailed as failure:
        _fail(deployment, current, target, reporter, str(failure))


def _pause(deployment: Deployment, run: Run | None) -> None:
    if run is not None:
        run.refresh_from_db()
        set_status(run, Status.PAUSING)
        set_status(run, Status.PAUSED)
    deployment.refresh_from_db()
    set_status(deployment, Status.PAUSING)
    set_status(deployment, Status.PAUSED, pause_requested=False)


def _cancel(
    deployment: Deployment, run: Run | None, target: Target, reporter: Reporter | None
) -> None:
    deployment.refresh_from_db()
    if deployment.status != Status.CANCELLING:
        set_status(deployment, Status.CANCELLING)
    if run is None:  # cancelled between runs, or a paused deployment being cancelled
        run = deployment.runs.exclude(status__in=[*FINISHED]).order_by("order").first()
    if run is not None:
        run.refresh_from_db()
        if run.status not in (Status.PENDING, Status.QUEUED):
            set_status(run, Status.CANCELLING)
            try:
                _undo_partial_run(run, deployment, target, reporter)
            except RunFailed as failure:
                set_status(
                    run, Status.FAILED, message=str(failure), level="error", error=str(failure)
                )
                set_status(
                    deployment,
                    Status.FAILED,
                    message="cancel could not undo the current run",
                    level="error",
                    error=str(failure),
                )
                return
            set_status(run, Status.CANCELLED)
        else:
            run.status = Status.CANCELLED
            run.save(update_fields=["status"])
    for pending in deployment.runs.filter(status__in=[Status.PENDING, Status.QUEUED]):
        pending.status = Status.CANCELLED
        pending.save(update_fields=["status"])
    set_status(deployment, Status.CANCELLED, cancel_requested=False)


def _fail(
    deployment: Deployment, run: Run | None, target: Target, reporter: Reporter | None, error: str
) -> None:
    deployment.refresh_from_db()
    if run is not None:
        run.refresh_from_db()
        set_status(run, Status.FAILED, message=error, level="error", error=error)
    auto = deployment.options.get("auto_rollback", migrator_settings.AUTO_ROLLBACK)
    forward = deployment.direction == "forward"
    if not (auto and forward and run is not None):
        set_status(deployment, Status.FAILED, message=error, level="error", error=error)
        return
    set_status(deployment, Status.ROLLING_BACK, message=error, level="error", error=error)
    try:
        set_status(run, Status.ROLLING_BACK)
        _undo_partial_run(run, deployment, target, reporter)
        set_status(run, Status.ROLLED_BACK)
        # Earlier migrations of this deployment went through: undo them too, newest first,
        # so the target ends exactly where the deployment found it.
        done = deployment.runs.filter(direction="forward", status=Status.SUCCEEDED).order_by(
            "-order"
        )
        for earlier in list(done):
            compensation = _append_run(deployment, earlier.migration, "backward")
            _execute_run(compensation, deployment, target, reporter, controllable=False)
    except (RunFailed, StepFailed) as failure:
        message = f"automatic rollback failed: {failure}"
        set_status(
            deployment, Status.FAILED, message=message, level="error", error=f"{error}\n{message}"
        )
        return
    set_status(deployment, Status.ROLLED_BACK, message="every change of this deployment was undone")


def _append_run(deployment: Deployment, migration: Migration, direction: str) -> Run:
    order = (deployment.runs.aggregate(last=Max("order"))["last"] or 0) + 1
    return Run.objects.create(
        deployment=deployment, migration=migration, order=order, direction=direction
    )


# -- one run ---------------------------------------------------------------------------


#: The catalog read once per execution (re-reading it per run made long deployments quadratic).
_execution_catalog: ContextVar[Catalog | None] = ContextVar("migrator_catalog", default=None)


@contextmanager
def one_catalog() -> Iterator[None]:
    """Read the catalog once for everything executed inside this block."""
    token = _execution_catalog.set(load_catalog())
    try:
        yield
    finally:
        _execution_catalog.reset(token)


def load_spec(migration: Migration, direction: str) -> MigrationSpec:
    """The migration from disk, refused if it changed since it was planned or applied."""
    catalog = _execution_catalog.get() or load_catalog()
    spec = catalog.get(migration.database, migration.version)
    if spec is None:
        raise RunFailed(
            f"{migration.version}: its file is gone from the catalog ({migration.source})"
        )
    expected = (
        migration.applied_checksum
        if direction == "backward" and migration.applied
        else migration.checksum
    )
    if expected and not checksums.matches(expected, spec.parts):
        raise RunFailed(
            f"{migration.version}: {spec.source} changed since it was "
            f"{'applied' if direction == 'backward' else 'planned'}; verify and plan again"
        )
    return spec


def _steps_in_order(spec: MigrationSpec, run: Run) -> list[tuple[int, StepSpec, int]]:
    """``(position in this run, step, forward order)``; backward runs go in reverse and
    skip steps the forward run skipped."""
    numbered = list(enumerate(spec.steps, start=1))
    if run.direction == "forward":
        return [(order, step, order) for order, step in numbered]
    forward = latest_forward_run(run.migration)
    skipped: set[int] = set()
    if forward is not None:
        skipped = set(
            forward.step_runs.filter(status=Status.SKIPPED).values_list("order", flat=True)
        )
    backward = [(order, step) for order, step in reversed(numbered) if order not in skipped]
    return [(position, step, order) for position, (order, step) in enumerate(backward, start=1)]


def _execute_run(
    run: Run,
    deployment: Deployment,
    target: Target,
    reporter: Reporter | None,
    controllable: bool = True,
) -> None:
    spec = load_spec(run.migration, run.direction)
    set_status(run, Status.RUNNING, heartbeat_at=timezone.now())
    forward_run = run if run.direction == "forward" else latest_forward_run(run.migration)
    if run.direction == "forward":
        _backup_before(run, spec, deployment, target)
    elif obstacles(run.migration, spec, target):
        _restore_instead(run, spec, deployment, target)
        return
    known = {step_run.order: step_run for step_run in run.step_runs.all()}
    steps = {step.order: step for step in run.migration.steps.all()}
    rows = 0
    with _heartbeat_for(run, deployment):
        for position, step_spec, order in _steps_in_order(spec, run):
            step_run = known.get(position)
            if step_run is None:  # created running: one write instead of two
                step_run = StepRun.objects.create(
                    run=run,
                    order=position,
                    name=step_spec.name,
                    kind=step_spec.kind,
                    step=steps.get(order),
                    status=Status.RUNNING,
                    attempts=1,
                    started_at=timezone.now(),
                )
            if step_run.status in (Status.SUCCEEDED, Status.SKIPPED):
                rows += step_run.rows_affected
                continue
            if controllable:
                control.check(deployment.pk)
            ex = StepExecution.build(
                target=target,
                deployment=deployment,
                run=run,
                step_run=step_run,
                spec=step_spec,
                order=order,
                forward_run_id=forward_run.pk if forward_run else 0,
                direction=run.direction,
                reporter=reporter,
                controllable=controllable,
            )
            _run_step(ex, step_run)
            rows += step_run.rows_affected
    _mark_applied(run, spec, deployment)
    set_status(run, Status.SUCCEEDED, rows_done=rows)


@contextmanager
def _heartbeat_for(run: Run, deployment: Deployment) -> Iterator[None]:
    """Runs of a deployment share its heartbeat thread; compensating runs start their own."""
    heartbeat = control.Heartbeat.current()
    if heartbeat is not None:
        heartbeat.run = run
        yield
        return
    with control.Heartbeat(deployment.database) as own:
        own.run = run
        yield


def _backup_before(run: Run, spec: MigrationSpec, deployment: Deployment, target: Target) -> None:
    mode = deployment.options.get("backup", migrator_settings.BACKUP)
    tables = backups.tables_for(mode, spec, target)
    if tables is None or run.backups.exists():
        return
    try:
        backups.take(target, tables, deployment=deployment, run=run, actor=deployment.requested_by)
    except Exception as exc:  # noqa: BLE001 - no backup, no run: it was asked for
        raise RunFailed(f"{run.migration.version}: backup failed: {exc}") from exc


def _restore_instead(run: Run, spec: MigrationSpec, deployment: Deployment, target: Target) -> None:
    """A migration with no way back: restore the backup taken before it was applied."""
    backup = (
        Backup.objects.filter(
            run__migration=run.migration, run__direction="forward", restored_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )
    if backup is None:
        raise RunFailed(
            f"{run.migration.version}: " + "; ".join(obstacles(run.migration, spec, target))
        )
    try:
        backups.restore(target, backup, actor=deployment.requested_by)
    except Exception as exc:  # noqa: BLE001
        raise RunFailed(
            f"{run.migration.version}: restoring backup #{backup.pk} failed: {exc}"
        ) from exc
    _mark_applied(run, spec, deployment)
    set_status(run, Status.SUCCEEDED, message=f"restored backup #{backup.pk}")


def _run_step(ex: StepExecution, step_run: StepRun) -> None:
    """Run one step with its ``on_error`` policy: fail, skip, or retry with backoff."""
    options = ex.spec.options
    policy = options.get("on_error", "fail")
    retries = int(options.get("retries", 3 if policy == "retry" else 0))
    backoff = float(options.get("backoff", 1.0))
    kind = KINDS[ex.spec.kind]
    recorded = step_run.status == Status.RUNNING and step_run.attempts == 1 and not step_run.error
    while True:
        if not recorded:  # a retry, or a step resumed after a pause or a crash
            step_run.attempts += 1
            step_run.status = Status.RUNNING
            step_run.started_at = step_run.started_at or timezone.now()
            step_run.save(update_fields=["attempts", "status", "started_at"])
        recorded = False
        try:
            if ex.direction == "forward":
                kind.forward(ex)
            else:
                kind.backward(ex)
        except (PauseRequested, CancelRequested):
            step_run.status = Status.PAUSED
            step_run.save(update_fields=["status"])
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then decided
            detail = str(exc) or type(exc).__name__
            error = detail if isinstance(exc, StepFailed) else f"{ex.where}{detail}"
            logger.warning("%s", error)
            if policy == "retry" and step_run.attempts <= retries:
                delay = backoff * 2 ** (step_run.attempts - 1)
                _step_event(
                    ex,
                    "retry",
                    f"{error}; retry {step_run.attempts}/{retries} in {delay:g}s",
                    "warning",
                )
                time.sleep(delay)
                continue
            step_run.error = error
            step_run.finished_at = timezone.now()
            if policy == "skip" and ex.direction == "forward":
                step_run.status = Status.SKIPPED
                step_run.save(update_fields=["status", "error", "finished_at"])
                _step_event(ex, Status.SKIPPED, f"{error}; skipped (on_error=skip)", "warning")
                return
            step_run.status = Status.FAILED
            step_run.save(update_fields=["status", "error", "finished_at"])
            _step_event(ex, "failed", error, "error")
            raise RunFailed(error) from exc
        # The step's result in one write: status and what its progress counted.
        step_run.status = Status.SUCCEEDED
        step_run.finished_at = timezone.now()
        step_run.error = ""
        step_run.rows_affected = ex.progress.done
        step_run.batches_done = ex.progress.batches
        step_run.save(
            update_fields=[
                "status",
                "finished_at",
                "error",
                "rows_affected",
                "batches_done",
                "cursor",
            ]
        )
        return


def _step_event(ex: StepExecution, action: str, message: str, level: str) -> None:
    audit.record(
        f"step_{action}",
        message,
        actor=ex.deployment.requested_by,
        level=level,
        database=ex.target.alias,
        deployment=ex.deployment,
        run=ex.run,
        step_run=ex.step_run,
    )


def _undo_partial_run(
    run: Run, deployment: Deployment, target: Target, reporter: Reporter | None
) -> None:
    """Undo what a failed or cancelled forward run had done, newest step first."""
    if run.direction != "forward":
        return  # a backward run stopped midway is recorded as it is; see docs/engine.md
    spec = load_spec(run.migration, "forward")
    for step_run in run.step_runs.order_by("-order"):
        started = step_run.status == Status.SUCCEEDED or (
            step_run.batches_done > 0 or bool((step_run.cursor or {}).get("captures"))
        )
        if not started or step_run.status in (Status.SKIPPED, Status.ROLLED_BACK):
            continue
        step_spec = spec.steps[step_run.order - 1]
        ex = StepExecution.build(
            target=target,
            deployment=deployment,
            run=run,
            step_run=step_run,
            spec=step_spec,
            order=step_run.order,
            forward_run_id=run.pk,
            direction="backward",
            reporter=reporter,
            undo=True,
        )
        kind = KINDS[step_spec.kind]
        if (
            step_run.status != Status.SUCCEEDED
            and step_spec.kind == "sql"
            and step_spec.transactional
        ):
            continue  # its transaction was rolled back by the database
        try:
            kind.backward(ex)
        except Exception as exc:  # noqa: BLE001
            message = str(exc) if isinstance(exc, StepFailed) else f"{ex.where}{exc}"
            _step_event(ex, "undo_failed", message, "error")
            raise RunFailed(f"undoing step {step_run.order}: {message}") from exc
        step_run.status = Status.ROLLED_BACK
        step_run.save(update_fields=["status"])
        _step_event(ex, "undone", f"{ex.where}undone", "info")


def _mark_applied(run: Run, spec: MigrationSpec, deployment: Deployment) -> None:
    migration = run.migration
    if run.direction == "forward":
        migration.applied = True
        migration.applied_at = timezone.now()
        migration.applied_checksum = spec.checksum
        migration.applied_by = deployment.requested_by
        migration.baselined = False
        reason = f"applied by deployment #{deployment.pk}"
    else:
        migration.applied = False
        migration.applied_at = None
        migration.applied_checksum = ""
        migration.applied_by = ""
        migration.baselined = False
        reason = f"rolled back by deployment #{deployment.pk}"
    migration._change_reason = audit.change_reason(reason)  # type: ignore[attr-defined]
    migration.save(
        update_fields=["applied", "applied_at", "applied_checksum", "applied_by", "baselined"]
    )


def run_story(deployment: Deployment) -> list[dict[str, Any]]:
    """A deployment's events in order: its full story, for the CLI and the admin."""
    return [
        {
            "time": e.time.isoformat(),
            "level": e.level,
            "action": e.action,
            "actor": e.actor,
            "message": e.message,
        }
        for e in deployment.events.order_by("time", "pk")
    ]
