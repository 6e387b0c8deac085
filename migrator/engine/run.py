"""Executing one run: one migration in one direction, step by step, exactly once.

A step's work and its record commit together: in the step's own transaction when the
target is migrator's own database, else with a ledger row in the target
(:mod:`.checkpoints`) that a resumed run reads to learn the step committed. A run first
checks, under the target lock, that its migration is still in the state the plan expected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.utils import timezone

from ..models import Run, StepRun
from ..states import Status
from . import backups, faults, rows
from .ahead import send_ahead
from .coverage import applying_run, obstacles, restorable_backup
from .errors import RunFailed
from .planned import check_as_planned
from .runtime import Runtime
from .specs import load_spec
from .step import build_execution, record_committed, run_step

if TYPE_CHECKING:
    from ..catalog import MigrationSpec, StepSpec

logger = logging.getLogger("migrator")


def steps_in_order(rt: Runtime, spec: MigrationSpec, run: Run) -> list[tuple[int, StepSpec, int]]:
    """``(position in this run, step, forward order)``; backward runs go in reverse and
    skip steps the applying run skipped."""
    numbered = list(enumerate(spec.steps, start=1))
    if run.direction == "forward":
        return [(order, step, order) for order, step in numbered]
    forward = applying_run(run.migration)
    skipped = rt.skipped_steps(forward.pk) if forward is not None else set()
    backward = [(order, step) for order, step in reversed(numbered) if order not in skipped]
    return [(position, step, order) for position, (order, step) in enumerate(backward, start=1)]


def execute_run(
    rt: Runtime, run: Run, *, controllable: bool = True, spec: MigrationSpec | None = None
) -> None:
    """Run (or resume) one run to success, or raise RunFailed / PauseRequested / CancelRequested
    (``spec``: its migration, if already read with :func:`load_spec`)."""
    if run.status == Status.SUCCEEDED:
        return
    if spec is None and rt.ahead is not None and rt.ahead.run_id == run.pk:
        spec = rt.ahead.spec  # read when its statements followed the previous commit
    if spec is None:
        spec = load_spec(run.migration, run.direction)
    check_as_planned(run)
    rt.current = run
    # The server runs the first step's statements while the bookkeeping below is done
    # (sent already if they followed the previous run's commit).
    if rt.ahead is None or rt.ahead.run_id != run.pk:
        rt.abandon_ahead()
        rt.ahead = send_ahead(rt, run, spec, controllable=controllable)
    try:
        _execute_run(rt, run, spec, controllable)
    except BaseException:
        rt.abandon_ahead()  # not taken by its step, or the next run's: nothing follows
        raise
    # Not taken by its step (it did not run after all); the next run's stay.
    rt.abandon_ahead(keep_next=True)


def _execute_run(rt: Runtime, run: Run, spec: MigrationSpec, controllable: bool) -> None:
    rt.board.show(None, run.pk)
    # A pending run has no step runs yet (see runs_of).
    known = (
        {}
        if run.status == Status.PENDING
        else {step_run.order: step_run for step_run in run.step_runs.all()}
    )
    if run.status != Status.RUNNING:
        rt.journal.transition(run, Status.RUNNING)
    if run.direction == "forward":
        if not known:
            backups.take_planned(rt, run, spec)
    elif not known and obstacles(run.migration, spec, rt.target):
        # Checked before the run starts only: once it has, its own restores drop the
        # captured values they put back (each step knows which it finished).
        _restore_backup_instead(rt, run, spec)
        return
    faults.point("run_started")
    ordered = steps_in_order(rt, spec, run)
    rt.rows_done = sum(sr.rows_affected for sr in known.values() if sr.status == Status.SUCCEEDED)
    with _foreign_keys(rt, run):
        for position, step, order in ordered:
            step_run = known.get(position)
            first_attempt = step_run is None
            if step_run is None:
                step_run = rows.build(
                    StepRun,
                    run=run,
                    order=position,
                    step_order=order,
                    name=step.name[:255],
                    kind=step.kind,
                    step_id=rt.step_id(run.migration_id, order),
                )
                rt.journal.create(step_run)
            if step_run.status in (Status.SUCCEEDED, Status.SKIPPED):
                continue
            ex = build_execution(
                rt,
                run,
                step_run,
                step,
                order,
                run.direction,
                controllable=controllable,
                first_attempt=first_attempt,
            )
            last = position == len(ordered)
            finish = (lambda rows: complete_run(rt, run, spec, rows)) if last else None
            if ex.checkpoints.step_finished:
                record_committed(rt, ex, step_run, finish)
            else:
                # (Checked before sending them, for a step whose statements are running.)
                if controllable and rt.ahead is None:
                    rt.flags.check(allow_pause=not rt.in_atomic)
                run_step(rt, ex, step_run, finish)
            if step_run.status == Status.SUCCEEDED:
                rt.rows_done += step_run.rows_affected
    if run.status != Status.SUCCEEDED:  # no steps, or the last one was skipped
        complete_run(rt, run, spec)
        rt.flush_outside()


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
