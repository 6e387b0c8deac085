"""A deployment from claim to its end: work, pause, cancel, failure and automatic rollback.

Whatever is raised, the deployment, its runs and its step runs end in a state the
transition tables allow: succeeded, paused, cancelled, rolled back, partially rolled back
(the report lists what stays applied) or failed (with the traceback of an unexpected error).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from ..dialects import state_atomic
from ..models import Deployment, Run, StepRun
from ..models.execution import Phase
from ..states import FINISHED, Status
from . import faults, rollback, schema_versions
from .control import CancelRequested, PauseRequested
from .errors import RunFailed
from .grouping import CommitGroup, GroupLost
from .run import execute_run
from .runtime import Runtime, runs_of
from .undo import undo_run

logger = logging.getLogger("migrator")

_DONE = (Status.SUCCEEDED, Status.ROLLED_BACK, Status.CANCELLED)


def drive(rt: Runtime) -> None:
    """Carry the claimed deployment as far as it goes; never leaves it mid-state."""
    deployment = rt.deployment
    try:
        try:
            if deployment.phase == Phase.UNDO:
                rollback.auto_rollback(rt)
            elif deployment.phase == Phase.CANCEL or deployment.cancel_requested:
                cancel(rt)
            else:
                work(rt)
        except PauseRequested:
            pause(rt)
        except CancelRequested:
            cancel(rt)
        except RunFailed as failure:
            rollback.fail(rt, failure)
    except Exception as exc:  # noqa: BLE001 - a bug or a lost database: recorded, never lost
        crash(rt, exc)


def work(rt: Runtime) -> None:
    deployment = rt.deployment
    runs = runs_of(deployment)
    rt.board.runs_total = len(runs)
    rt.board.runs_done = sum(run.status == Status.SUCCEEDED for run in runs)
    capture = schema_versions.capture_after_each(runs) and not rt.policy.dry_run
    # Too many runs to record after each (live): still after the last of each release.
    too_many = not capture and not rt.policy.dry_run
    release_ends = schema_versions.release_ends(runs) if too_many else set()
    if rt.policy.atomic:
        if not rollback.work_atomic(rt, runs):
            return
        # All or nothing: the versions in between were never visible; the one reached is
        # recorded at the end.
        capture = False
    else:
        group = CommitGroup(rt)
        while True:
            try:
                _run_each(rt, runs, group, capture, release_ends)
                break
            except GroupLost as lost:
                # The database has the runs as they were before the group: run them again,
                # each alone, so that a failure is the failing migration's own.
                runs = _after_lost_group(rt, str(lost))
                group = CommitGroup(rt, allowed=False)
    rt.current = None
    _finish(rt, runs, capture)


def _run_each(
    rt: Runtime, runs: list[Run], group: CommitGroup, capture: bool, release_ends: set[int]
) -> None:
    """The runs in order, quick ones committed together (see :mod:`.grouping`), or each
    next one's first statements sent with the previous one's commit (see :mod:`.ahead`)
    where nothing happens between them (no schema recorded after it)."""
    rt.following = (
        {}
        if capture or group.enabled
        else {
            run.pk: following
            for run, following in zip(runs, runs[1:], strict=False)
            if run.pk not in release_ends
        }
    )
    try:
        for run in runs:
            if run.status in _DONE:
                continue
            spec = group.before(run)
            execute_run(rt, run, spec=spec)
            _after_run(rt, run, capture or run.pk in release_ends)
            faults.point("between_runs")
    except BaseException as stopped:
        rt.abandon_ahead()  # the next run's statements, if they followed a commit
        # What the group's finished runs did commits before the stop is handled.
        group.end(stopped)
        raise
    finally:
        rt.following = {}
    group.end()


def _after_lost_group(rt: Runtime, message: str) -> list[Run]:
    """The runs as the database has them after a group rolled back, with an event."""
    logger.warning("deployment #%s: %s", rt.deployment.pk, message)
    rt.journal.discard()
    rt.abandon_ahead()
    rt.current = None
    rt.rows_done = 0
    rt.foreign_keys_off = False
    runs = runs_of(rt.deployment)
    rt.board.runs_done = sum(run.status == Status.SUCCEEDED for run in runs)
    rt.journal.event("group_rolled_back", message, level="warning")
    rt.journal.flush()
    return runs


def _after_run(rt: Runtime, run: Run, capture_each: bool) -> None:
    if rt.policy.dry_run and rt.report is not None and run.direction == "forward":
        schema = rt.target.dialect.capture_schema()
        rt.report.run_schema(run, schema)
        schema_versions.record_expected(rt.deployment, run.migration, schema)
    elif capture_each:
        schema_versions.record(rt.deployment, rt.target)


def _finish(rt: Runtime, runs: list[Run], captured_each: bool) -> None:
    deployment = rt.deployment
    if rt.policy.dry_run:
        assert rt.report is not None
        schema_after = rt.target.dialect.capture_schema()
        rt.journal.change(deployment, report=rt.report.as_dict(schema_after, ""))
        rt.journal.transition(deployment, Status.SUCCEEDED, message="dry run rolled back")
        rt.journal.flush()
        return
    if not captured_each:
        schema_versions.record(deployment, rt.target)
    faults.point("before_success")
    rt.journal.transition(deployment, Status.SUCCEEDED)
    rt.journal.flush()


def pause(rt: Runtime) -> None:
    deployment = rt.deployment
    run = rt.current
    if run is not None and run.status == Status.RUNNING:
        # What the run has done so far stays visible while it waits (finished steps plus
        # the committed batches of the one that paused).
        step = rt.board.current
        rows = rt.rows_done + (step.done if step is not None else 0)
        rt.journal.transition(run, Status.PAUSING)
        rt.journal.transition(run, Status.PAUSED, rows_done=rows)
    rt.journal.transition(deployment, Status.PAUSING)
    rt.journal.transition(deployment, Status.PAUSED, pause_requested=False)
    rt.journal.flush()


def cancel(rt: Runtime) -> None:
    """Undo the migration in progress; completed migrations of the deployment stay."""
    deployment = rt.deployment
    if deployment.status != Status.CANCELLING:
        rt.journal.transition(deployment, Status.CANCELLING, phase=Phase.CANCEL)
        rt.journal.flush()
    runs = runs_of(deployment)
    run = next((r for r in runs if r.pk == getattr(rt.current, "pk", None)), None)
    if run is None:
        run = next(
            (r for r in runs if r.status not in (*FINISHED, Status.PENDING, Status.CANCELLED)),
            None,
        )
    if run is not None and run.status not in (Status.PENDING, *FINISHED):
        if run.status != Status.CANCELLING:
            rt.journal.transition(run, Status.CANCELLING)
            rt.journal.flush()
        try:
            if not rt.policy.dry_run:
                undo_run(rt, run)
        except RunFailed as failure:
            rt.journal.transition(run, Status.FAILED, error=str(failure), level="error")
            rt.journal.transition(
                deployment,
                Status.FAILED,
                message="cancel could not undo the migration in progress",
                error=str(failure),
                failure=failure.detail or {"message": str(failure)},
                level="error",
            )
            rt.journal.flush()
            return
        rt.journal.transition(run, Status.CANCELLED)
    for pending in runs:
        if pending.status == Status.PENDING:
            rt.journal.transition(pending, Status.CANCELLED)
    rt.journal.transition(deployment, Status.CANCELLED, cancel_requested=False)
    rt.journal.flush()
    if not rt.policy.dry_run and any(r.status == Status.SUCCEEDED for r in runs):
        schema_versions.record(deployment, rt.target)


def crash(rt: Runtime, exc: BaseException) -> None:
    """An unexpected error: record it, with its traceback, on everything in flight."""
    text = "".join(traceback.format_exception(exc))
    message = f"{type(exc).__name__}: {exc}"
    logger.error("deployment #%s crashed: %s", rt.deployment.pk, text)
    rt.journal.discard()
    try:
        with state_atomic():
            record_failure(rt, message, {"message": message, "traceback": text})
    except Exception:  # noqa: BLE001 - nothing more can be done; recover will find it
        logger.exception("could not record the failure of deployment #%s", rt.deployment.pk)


def record_failure(
    rt: Runtime, message: str, detail: dict[str, Any], status: str = Status.FAILED
) -> None:
    """Move everything in flight to ``status`` (failed, or interrupted), from the rows as
    they are in the database now."""
    deployment = rt.deployment
    deployment.refresh_from_db()
    journal = rt.journal
    busy = (Status.RUNNING, Status.PAUSING, Status.CANCELLING, Status.ROLLING_BACK)
    for run in deployment.runs.filter(status__in=busy).select_related("migration"):
        for step_run in StepRun.objects.filter(run=run, status=Status.RUNNING):
            step_run.run = run
            journal.transition(step_run, status, error=message)
        journal.transition(run, status, error=message, level="error")
    if deployment.status not in FINISHED:
        journal.transition(
            deployment, status, message=message, error=message, failure=detail, level="error"
        )
    journal.flush()


def _state_alias() -> str:
    from django.db import router

    return router.db_for_write(Deployment)


__all__ = ["drive", "record_failure"]
