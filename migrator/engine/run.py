"""Executing one run: one migration in one direction, step by step, exactly once.

A step's work and its record commit together: in the step's own transaction when the
target is migrator's own database, else with a ledger row in the target
(:mod:`.checkpoints`) that a resumed run reads to learn the step committed. A run first
checks, under the target lock, that its migration is still in the state the plan expected.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ..conf import migrator_settings
from ..models import Backup, Migration, Run, StepRun
from ..states import Status
from . import backups, faults
from .checkpoints import Checkpoints
from .control import CancelRequested, PauseRequested
from .coverage import applying_run, obstacles, restorable_backup
from .errors import RunFailed, StepFailed
from .execution import StepExecution
from .kinds import kind_for
from .progress import Progress
from .runtime import Runtime
from .specs import load_spec

if TYPE_CHECKING:
    from ..catalog import MigrationSpec, StepSpec

logger = logging.getLogger("migrator")


class PlanStale(RunFailed):
    """The migration is no longer in the state the plan expected (someone else moved it)."""


def steps_in_order(spec: MigrationSpec, run: Run) -> list[tuple[int, StepSpec, int]]:
    """``(position in this run, step, forward order)``; backward runs go in reverse and
    skip steps the applying run skipped."""
    numbered = list(enumerate(spec.steps, start=1))
    if run.direction == "forward":
        return [(order, step, order) for order, step in numbered]
    forward = applying_run(run.migration)
    skipped: set[int] = set()
    if forward is not None:
        skipped = set(
            forward.step_runs.filter(status=Status.SKIPPED).values_list("step_order", flat=True)
        )
    backward = [(order, step) for order, step in reversed(numbered) if order not in skipped]
    return [(position, step, order) for position, (order, step) in enumerate(backward, start=1)]


def check_as_planned(run: Run) -> None:
    """Raise :class:`PlanStale` unless the migration is where this run expects it."""
    migration = Migration.objects.get(pk=run.migration_id)
    run.migration.applied = migration.applied
    run.migration.applied_run_id = migration.applied_run_id
    if migration.repeatable:
        return
    if run.direction == "forward" and migration.applied:
        applier = migration.applied_run
        by = applier.deployment_id if applier is not None else None
        source = f"by deployment #{by}" if by else "(baselined or marked done)"
        raise PlanStale(
            f"{migration.version} is already applied {source}: this deployment's plan is "
            "stale; plan a new one"
        )
    if run.direction == "backward" and not migration.applied:
        raise PlanStale(
            f"{migration.version} is no longer applied: this deployment's plan is stale; "
            "plan a new one"
        )


def execute_run(rt: Runtime, run: Run, *, controllable: bool = True) -> None:
    """Run (or resume) one run to success, or raise RunFailed / PauseRequested / CancelRequested."""
    if run.status == Status.SUCCEEDED:
        return
    spec = load_spec(run.migration, run.direction)
    check_as_planned(run)
    rt.current = run
    rt.board.show(None, run.pk)
    if run.status != Status.RUNNING:
        rt.journal.transition(run, Status.RUNNING)
    known = {step_run.order: step_run for step_run in run.step_runs.all()}
    if run.direction == "forward":
        if not known:
            _backup_before(rt, run, spec)
    elif not known and obstacles(run.migration, spec, rt.target):
        # Checked before the run starts only: once it has, its own restores drop the
        # captured values they put back (each step knows which it finished).
        _restore_backup_instead(rt, run, spec)
        return
    faults.point("run_started")
    ordered = steps_in_order(spec, run)
    rt.rows_done = sum(sr.rows_affected for sr in known.values() if sr.status == Status.SUCCEEDED)
    definitions = {step.order: step for step in run.migration.steps.all()}
    with _foreign_keys(rt, run):
        for position, step, order in ordered:
            step_run = known.get(position)
            if step_run is None:
                step_run = StepRun(
                    run=run,
                    order=position,
                    step_order=order,
                    name=step.name[:255],
                    kind=step.kind,
                    step=definitions.get(order),
                )
                rt.journal.create(step_run)
            if step_run.status in (Status.SUCCEEDED, Status.SKIPPED):
                continue
            ex = build_execution(
                rt, run, step_run, step, order, run.direction, controllable=controllable
            )
            last = position == len(ordered)
            if ex.checkpoints.step_finished:
                _record_committed(rt, run, ex, step_run, spec, last)
            else:
                if controllable:
                    rt.flags.check(allow_pause=not rt.in_atomic)
                run_step(rt, run, ex, step_run, spec, last)
            if step_run.status == Status.SUCCEEDED:
                rt.rows_done += step_run.rows_affected
    if run.status != Status.SUCCEEDED:  # no steps, or the last one was skipped
        complete_run(rt, run, spec)
        rt.flush_outside()


def build_execution(
    rt: Runtime,
    run: Run,
    step_run: StepRun,
    step: StepSpec,
    order: int,
    direction: str,
    *,
    controllable: bool = True,
    forward_run_id: int | None = None,
    partial: bool = False,
) -> StepExecution:
    """A step execution with fresh progress and checkpoints (one per attempt)."""
    if forward_run_id is None:
        if direction == "forward":
            forward_run_id = run.pk
        else:
            forward = applying_run(run.migration)
            forward_run_id = forward.pk if forward is not None else 0
    ledger_run = forward_run_id if direction == "undo" else run.pk
    progress = Progress(
        label=run.migration.version,
        step_name=f"undo {step.name}" if direction == "undo" else step.name,
        reporter=rt.reporter,
        on_batch=(lambda: rt.flags.check(allow_pause=not rt.in_atomic)) if controllable else None,
    )
    rt.board.show(progress, run.pk)
    return StepExecution(
        target=rt.target,
        deployment=rt.deployment,
        run=run,
        step_run=step_run,
        step=step,
        order=order,
        direction=direction,
        forward_run_id=forward_run_id,
        checkpoints=Checkpoints(rt.target, ledger_run, order, direction),
        progress=progress,
        dry_run=rt.policy.dry_run,
        partial=partial,
        journal=rt.journal,
    )


def run_step(
    rt: Runtime, run: Run, ex: StepExecution, step_run: StepRun, spec: MigrationSpec, last: bool
) -> None:
    """One step with its ``on_error`` policy: fail, skip, or retry with backoff."""
    kind = kind_for(ex.step.kind)
    options = ex.step.options
    policy = options.get("on_error", "fail")
    retries = int(options.get("retries", 3 if policy == "retry" else 0))
    backoff = float(options.get("backoff", 1.0))
    obstacle = rt.policy.obstacle(kind, ex.step, ex.dialect)
    if obstacle:
        _start(rt, step_run)
        rt.journal.transition(step_run, Status.SKIPPED, error=obstacle)
        if rt.report is not None:
            rt.report.step(ex, executed=False, reason=obstacle)
        if last:
            complete_run(rt, run, spec)
        rt.flush_outside()
        return
    while True:
        _start(rt, step_run)
        if not kind.transactional(ex.step):
            # Recorded and visible before work that commits on its own; what a memento
            # takes back must only be what the step's own transaction would have written.
            rt.flush_outside()
        memento = rt.journal.savepoint(run, step_run, run.migration)
        started = time.perf_counter()
        try:
            _attempt(rt, run, ex, step_run, spec, last)
        except (PauseRequested, CancelRequested):
            rt.journal.restore(memento)
            rt.journal.transition(
                step_run,
                Status.PAUSED,
                rows_affected=ex.progress.done,
                batches_done=ex.progress.batches,
            )
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then decided
            rt.journal.restore(memento)
            error, detail = _describe_failure(ex, exc)
            logger.warning("%s", error)
            if policy == "retry" and step_run.attempts <= retries:
                delay = backoff * 2 ** (step_run.attempts - 1)
                rt.journal.event(
                    "step_retry",
                    f"{error}; retry {step_run.attempts}/{retries} in {delay:g}s",
                    level="warning",
                    run=run,
                    step_run=step_run,
                )
                rt.flush_outside()
                time.sleep(delay)
                ex = build_execution(rt, run, step_run, ex.step, ex.order, ex.direction)
                continue
            if rt.report is not None:
                rt.report.step(
                    ex, executed=True, seconds=time.perf_counter() - started, error=error
                )
            if policy == "skip" and ex.direction == "forward":
                rt.journal.transition(step_run, Status.SKIPPED, error=error)
                rt.journal.event(
                    "step_skipped",
                    f"{error}; skipped (on_error=skip)",
                    level="warning",
                    run=run,
                    step_run=step_run,
                )
                if last:
                    complete_run(rt, run, spec)
                rt.flush_outside()
                return
            rt.journal.transition(
                step_run,
                Status.FAILED,
                error=error,
                rows_affected=ex.progress.done,
                batches_done=ex.progress.batches,
            )
            rt.journal.event("step_failed", error, level="error", run=run, step_run=step_run)
            raise RunFailed(error, detail) from exc
        if rt.report is not None:
            rt.report.step(ex, executed=True, seconds=time.perf_counter() - started)
        return


def _attempt(
    rt: Runtime, run: Run, ex: StepExecution, step_run: StepRun, spec: MigrationSpec, last: bool
) -> None:
    kind = kind_for(ex.step.kind)
    act = kind.forward if ex.direction == "forward" else kind.backward
    if kind.transactional(ex.step):
        with ex.target.atomic():
            act(ex)
            _finish(rt, run, ex, step_run, spec, last)
    else:
        act(ex)
        with ex.target.atomic():
            _finish(rt, run, ex, step_run, spec, last)
    faults.point("step_committed")
    rt.flush_outside()


def _finish(
    rt: Runtime, run: Run, ex: StepExecution, step_run: StepRun, spec: MigrationSpec, last: bool
) -> None:
    """Inside the step's (last) transaction: check, write the ledger, record the result."""
    if rt.foreign_keys_off:
        try:
            ex.dialect.check_foreign_keys()  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - raised as the step's failure
            raise StepFailed(f"{ex.where}{exc}") from exc
    ex.progress.finish()
    ex.checkpoints.finish_step(ex.progress.done)
    rt.journal.transition(
        step_run,
        Status.SUCCEEDED,
        rows_affected=ex.progress.done,
        batches_done=ex.progress.batches,
        error="",
    )
    if last:
        complete_run(rt, run, spec, extra_rows=ex.progress.done)
    rt.flush_in_transaction()


def _record_committed(
    rt: Runtime, run: Run, ex: StepExecution, step_run: StepRun, spec: MigrationSpec, last: bool
) -> None:
    """The step's work committed but its record did not (the worker died in between)."""
    _start(rt, step_run)
    rt.journal.transition(
        step_run,
        Status.SUCCEEDED,
        message="its work had committed before the worker stopped; recorded on resume",
        rows_affected=ex.checkpoints.get("").done,
    )
    if last:
        complete_run(rt, run, spec, extra_rows=step_run.rows_affected)
    rt.flush_outside()


def _start(rt: Runtime, step_run: StepRun) -> None:
    if step_run.status == Status.RUNNING:
        rt.journal.change(step_run, attempts=step_run.attempts + 1)
    else:
        rt.journal.transition(step_run, Status.RUNNING, attempts=step_run.attempts + 1, error="")


def complete_run(rt: Runtime, run: Run, spec: MigrationSpec, extra_rows: int = 0) -> None:
    """Record the run as succeeded and, live, the migration's new applied state."""
    rows = rt.rows_done + extra_rows
    rt.journal.transition(run, Status.SUCCEEDED, rows_done=rows, rows_total=rows, error="")
    rt.board.runs_done += 1
    if not rt.policy.records_applied:
        return
    migration = run.migration
    deployment = rt.deployment
    if run.direction == "forward":
        rt.journal.change(
            migration,
            reason=f"applied by deployment #{deployment.pk}",
            applied=True,
            applied_at=timezone.now(),
            applied_checksum=spec.checksum,
            applied_by=deployment.requested_by,
            applied_run=run,
            baselined=False,
            marked_done=False,
        )
    else:
        rt.journal.change(
            migration,
            reason=f"rolled back by deployment #{deployment.pk}",
            applied=False,
            applied_at=None,
            applied_checksum="",
            applied_by="",
            applied_run=None,
            baselined=False,
            marked_done=False,
        )


@contextmanager
def _foreign_keys(rt: Runtime, run: Run) -> Iterator[None]:
    """Foreign keys off around the run when its migration asks for it (SQLite)."""
    if run.migration.options.get("foreign_keys", True):
        yield
        return
    rt.flush_outside()
    with rt.target.dialect.foreign_keys_off():
        rt.foreign_keys_off = True
        try:
            yield
        finally:
            rt.foreign_keys_off = False


def _backup_before(rt: Runtime, run: Run, spec: MigrationSpec) -> None:
    """Take the backup the deployment asked for (or the plan chose) before any step."""
    if rt.policy.dry_run:
        return
    options = rt.deployment.options
    mode = options.get("backup", migrator_settings.BACKUP)
    chosen = run.migration.version in options.get("backup_versions", [])
    if mode == "auto":
        mode = "touched" if chosen else "off"
    tables = backups.tables_for(mode, spec, rt.target)
    if tables is None:
        return
    existing = Backup.objects.filter(run=run).first()
    if existing is not None:
        if existing.location:
            return
        backups.drop(rt.target, existing)  # taken halfway by a worker that died
    rt.flush_outside()
    try:
        backups.take(
            rt.target,
            tables,
            deployment=rt.deployment,
            run=run,
            migration=run.migration,
            actor=rt.deployment.requested_by,
        )
    except Exception as exc:  # noqa: BLE001 - no backup, no run: it was asked for
        raise RunFailed(f"{run.migration.version}: backup failed: {exc}") from exc


def _restore_backup_instead(rt: Runtime, run: Run, spec: MigrationSpec) -> None:
    """A migration with no way back: restore the backup taken before it was applied."""
    backup = restorable_backup(run.migration)
    if backup is None:
        raise RunFailed(
            f"{run.migration.version}: " + "; ".join(obstacles(run.migration, spec, rt.target))
        )
    rt.flush_outside()
    try:
        backups.restore(rt.target, backup, actor=rt.deployment.requested_by)
    except Exception as exc:  # noqa: BLE001
        raise RunFailed(
            f"{run.migration.version}: restoring backup #{backup.pk} failed: {exc}"
        ) from exc
    rt.journal.event("restored_backup", f"restored backup #{backup.pk}", run=run)
    complete_run(rt, run, spec)
    rt.flush_outside()


def _describe_failure(ex: StepExecution, exc: BaseException) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {
        "version": ex.run.migration.version,
        "step": ex.order,
        "step_name": ex.step.name,
        "direction": ex.direction,
    }
    if isinstance(exc, StepFailed):
        message = str(exc)
        detail.update(getattr(exc, "detail", {}) or {})
    else:
        message = (
            f"{ex.where}{type(exc).__name__}: {exc}"
            if str(exc)
            else f"{ex.where}{type(exc).__name__}"
        )
        detail["traceback"] = "".join(traceback.format_exception(exc))
    detail["message"] = message
    return message, detail


__all__ = [
    "PlanStale",
    "build_execution",
    "complete_run",
    "execute_run",
    "run_step",
    "steps_in_order",
]
