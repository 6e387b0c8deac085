"""Taking back what a forward run committed: newest step first, each undo resumable.

Each undone step records its end (a ledger row under direction ``undo``) in the same
transaction as the undo's last act, so a resumed undo skips what is already taken back,
including a restore whose capture table is already dropped.
"""

from __future__ import annotations

from ..models import Run
from ..states import Status
from . import faults
from .checkpoints import Checkpoints
from .errors import RunFailed, StepFailed
from .kinds import kind_for
from .runtime import Runtime
from .specs import load_spec
from .step import build_execution


def undo_run(rt: Runtime, run: Run) -> None:
    """Undo a failed or cancelled forward run's committed work; raise RunFailed if a step
    cannot be taken back (the run's record says which)."""
    if run.direction != "forward":
        return  # a backward run stopped midway is recorded as it is (docs/engine.md)
    spec = load_spec(run.migration, "forward")
    for step_run in sorted(run.step_runs.all(), key=lambda sr: -sr.order):
        if step_run.status in (Status.PENDING, Status.SKIPPED, Status.ROLLED_BACK):
            continue
        step = spec.steps[step_run.step_order - 1]
        kind = kind_for(step.kind)
        forward_ledger = Checkpoints(rt.target, run.pk, step_run.step_order, "forward")
        committed = step_run.status == Status.SUCCEEDED or forward_ledger.step_finished
        if not committed and kind.transactional_for(step, "forward"):
            rt.journal.transition(
                step_run,
                Status.ROLLED_BACK,
                message="its transaction was rolled back by the database",
            )
            rt.flush_outside()
            continue
        ex = build_execution(
            rt,
            run,
            step_run,
            step,
            step_run.step_order,
            "undo",
            controllable=False,
            forward_run_id=run.pk,
            partial=not committed,
        )
        if ex.checkpoints.step_finished:
            rt.journal.transition(step_run, Status.ROLLED_BACK, message="undone before")
            rt.flush_outside()
            continue
        try:
            if kind.transactional_for(step, "undo"):
                with ex.target.atomic():
                    kind.undo(ex)
                    _finish_undo(rt, ex)
            else:
                rt.flush_outside()
                kind.undo(ex)
                with ex.target.atomic():
                    _finish_undo(rt, ex)
            faults.point("undo_step_done")
            rt.flush_outside()
        except Exception as exc:  # noqa: BLE001 - recorded, then the caller decides
            message = str(exc) if isinstance(exc, StepFailed) else f"{ex.where}{exc}"
            rt.journal.event("step_undo_failed", message, level="error", run=run, step_run=step_run)
            rt.flush_outside()
            raise RunFailed(f"undoing step {step_run.step_order}: {message}") from exc


def _finish_undo(rt: Runtime, ex: object) -> None:
    from .execution import StepExecution

    assert isinstance(ex, StepExecution)
    ex.checkpoints.finish_step(ex.progress.done)
    rt.journal.transition(ex.step_run, Status.ROLLED_BACK, message="undone")
    rt.flush_in_transaction()
