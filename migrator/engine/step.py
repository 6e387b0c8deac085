"""Executing one step with its ``on_error`` policy: fail, skip, or retry with backoff.

A step's work and its record commit together: in the step's own transaction when the
target is migrator's own database (the journal is flushed into it), else with the ledger
row the step writes in the target (:mod:`.checkpoints`), read by a resumed run.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..conf import migrator_settings
from ..models import Run, StepRun
from ..states import Status
from . import faults
from .ahead import chain_next
from .checkpoints import Checkpoints
from .control import CancelRequested, PauseRequested
from .coverage import applying_run
from .errors import RunFailed, StepFailed
from .execution import StepExecution
from .journal import Awaited
from .kinds import kind_for
from .progress import Progress
from .runtime import Runtime, record_follows_work

if TYPE_CHECKING:
    from ..catalog import StepSpec

logger = logging.getLogger("migrator")

#: Called inside the last step's transaction with that step's rows: records the run's end.
FinishRun = Callable[[int], None]


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
    first_attempt: bool = False,
) -> StepExecution:
    """A step execution with fresh progress and checkpoints (one per attempt).

    ``first_attempt``: the step run was just created, so (with the state in the target's
    database) no checkpoint of it can exist and none is read."""
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
        checkpoints=Checkpoints(
            rt.target,
            ledger_run,
            order,
            direction,
            fresh=first_attempt and rt.target.shares_state and direction != "undo",
        ),
        progress=progress,
        dry_run=rt.policy.dry_run,
        partial=partial,
        journal=rt.journal,
    )


def run_step(
    rt: Runtime, ex: StepExecution, step_run: StepRun, finish_run: FinishRun | None
) -> None:
    """One step with its ``on_error`` policy: fail, skip, or retry with backoff."""
    kind = kind_for(ex.step.kind)
    options = ex.step.options
    policy = options.get("on_error", "fail")
    retries = int(options.get("retries", 3 if policy == "retry" else 0))
    backoff = float(options.get("backoff", 1.0))
    obstacle = rt.policy.obstacle(kind, ex.step, ex.dialect, ex.direction)
    if obstacle:
        start(rt, step_run)
        rt.journal.transition(step_run, Status.SKIPPED, error=obstacle)
        if rt.report is not None:
            rt.report.step(ex, executed=False, reason=obstacle)
        if finish_run is not None:
            finish_run(0)
        rt.flush_outside()
        return
    run = ex.run
    while True:
        start(rt, step_run)
        if not kind.transactional_for(ex.step, ex.direction):
            # Recorded and visible before work that commits on its own; what a memento
            # takes back must only be what the step's own transaction would have written.
            rt.flush_outside()
        memento = rt.journal.savepoint(run, step_run, run.migration)
        started = time.perf_counter()
        try:
            _attempt(rt, ex, step_run, finish_run)
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
                if finish_run is not None:
                    finish_run(0)
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
    rt: Runtime, ex: StepExecution, step_run: StepRun, finish_run: FinishRun | None
) -> None:
    kind = kind_for(ex.step.kind)
    act = kind.forward if ex.direction == "forward" else kind.backward
    # The step's transaction begun and its statements sent before the run's bookkeeping
    # (see .ahead), taken as its own by the first attempt (a retry sends them again).
    ahead = rt.take_ahead(ex.run.pk, ex.order, ex.direction)
    if kind.transactional_for(ex.step, ex.direction):
        with ex.target.atomic() if ahead is None else ahead.take():
            ex.sent_ahead = None if ahead is None else ahead.sent
            # Only this step's: then its record's writes may end it (nothing follows them).
            own = len(ex.target.connection.atomic_blocks) == 1
            # Its record follows its work in this transaction, with nothing in between:
            # the kind may leave the work running while the record is built.
            ex.may_defer = own and record_follows_work(rt, ex.dry_run)
            try:
                act(ex)
                # Unless Django is to roll it back (an inner block failed and was caught).
                commit = own and not ex.target.connection.needs_rollback
                # The step run's success commits in this same transaction when the state
                # is in the target's database: then it is the ledger, and no row is needed.
                _finish(
                    rt,
                    ex,
                    step_run,
                    finish_run,
                    ledger=not rt.target.shares_state,
                    wait_for_disk=_waits_for_disk(ex),
                    commit=commit,
                    # Its own transaction, below Django's: the next run's may follow.
                    chains=ahead is not None,
                )
                if not commit:  # (else the database may have committed it with the record)
                    faults.point("step_recorded")
            finally:
                if ex.deferred is not None:
                    ex.deferred.end()
        # Released into a commit group's transaction, if one is open: what the step's
        # record staged there is the group's now.
        rt.journal.seal()
    else:
        if ahead is not None:  # (never sent for such a step: see ahead.send_ahead)
            ahead.abandon()
        act(ex)
        with ex.target.atomic():
            _finish(rt, ex, step_run, finish_run, ledger=True)
    faults.point("step_committed")
    rt.flush_outside()


def _finish(
    rt: Runtime,
    ex: StepExecution,
    step_run: StepRun,
    finish_run: FinishRun | None,
    *,
    ledger: bool,
    wait_for_disk: bool = True,
    commit: bool = False,
    chains: bool = False,
) -> None:
    """Inside the step's (last) transaction: check, write the ledger, record the result.

    Work the kind left running is waited for by the flush, once what does not depend on
    it went to the server: the rows it changed are then written with the rest, before the
    commit (its failure is the step's, and nothing is committed). With ``chains``, the
    run's last step's commit may carry the next run's first statements (see
    :func:`.ahead.chain_next`)."""
    if rt.foreign_keys_off:
        try:
            ex.dialect.check_foreign_keys()  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - raised as the step's failure
            raise StepFailed(f"{ex.where}{exc}") from exc
    deferred = ex.deferred
    if deferred is None:
        ex.progress.finish()
    if ledger:
        ex.checkpoints.finish_step(ex.progress.done)
    rt.journal.transition(
        step_run,
        Status.SUCCEEDED,
        rows_affected=ex.progress.done,
        batches_done=ex.progress.batches,
        error="",
    )
    if finish_run is not None:
        finish_run(ex.progress.done)
    if deferred is None:
        rt.flush_in_transaction(wait_for_disk=wait_for_disk, commit=commit)
        return
    run = ex.run
    before = ex.progress.done
    settled: list[bool] = []

    def settle() -> None:
        if settled:
            return
        deferred.settle()
        settled.append(True)
        ex.progress.finish()
        more = ex.progress.done - before
        rt.journal.amend(step_run, rows_affected=ex.progress.done)
        if finish_run is not None:  # the run finished with it (see run.complete_run)
            rows = run.rows_done + more
            rt.journal.amend(run, rows_done=rows, rows_total=rows)

    chained = (
        chain_next(rt, run, controllable=ex.progress.on_batch is not None)
        if chains and commit and finish_run is not None
        else None
    )
    rt.flush_in_transaction(
        wait_for_disk=wait_for_disk,
        commit=commit,
        awaited=Awaited((step_run, run), settle),
        chain=None if chained is None else chained.chain,
    )
    if chained is not None:
        rt.ahead = chained.sent(rt)


#: Kinds whose whole effect is SQL in the step's own transaction: if a server crash loses
#: such a commit, it loses the step and its record together, and resuming runs it again.
SELF_CONTAINED = frozenset({"sql", "validate"})


def _waits_for_disk(ex: StepExecution) -> bool:
    """Whether the step's commit waits for the disk. A self-contained step's need not:
    the deployment's last commit waits, and with it everything committed before it (the
    write-ahead log is written in order), so what a finished deployment reports is on
    disk; a server crash in between loses a suffix of steps with their records, as a crash
    before their commits would. A step that may act outside the database (Python code)
    waits, as every step does with ``DURABLE_STEPS``."""
    return bool(migrator_settings.DURABLE_STEPS) or ex.step.kind not in SELF_CONTAINED


def record_committed(
    rt: Runtime, ex: StepExecution, step_run: StepRun, finish_run: FinishRun | None
) -> None:
    """The step's work committed but its record did not (the worker died in between)."""
    start(rt, step_run)
    rt.journal.transition(
        step_run,
        Status.SUCCEEDED,
        message="its work had committed before the worker stopped; recorded on resume",
        rows_affected=ex.checkpoints.get("").done,
    )
    if finish_run is not None:
        finish_run(step_run.rows_affected)
    rt.flush_outside()


def start(rt: Runtime, step_run: StepRun) -> None:
    if step_run.status == Status.RUNNING:
        rt.journal.change(step_run, attempts=step_run.attempts + 1)
    else:
        rt.journal.transition(step_run, Status.RUNNING, attempts=step_run.attempts + 1, error="")


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
