"""When a deployment fails: the automatic rollback of everything it did, resumable, or
the record of where it stopped; and deployments run as one transaction.
"""

from __future__ import annotations

from django.db.models import Max

from ..catalog.formats.flyway import callback_event
from ..conf import migrator_settings
from ..models import Migration, Run
from ..models.execution import Phase
from ..states import FINISHED, Status
from . import faults, schema_versions
from .control import CancelRequested
from .errors import RunFailed
from .planned import PlanStale
from .run import execute_run
from .runtime import Runtime, runs_of
from .undo import undo_run

_DONE = (Status.SUCCEEDED, Status.ROLLED_BACK, Status.CANCELLED)


def work_atomic(rt: Runtime, runs: list[Run]) -> bool:
    """Every run in one transaction: all or nothing, for free. False if it rolled back
    (and that is recorded)."""
    rt.in_atomic = True
    try:
        with rt.target.atomic():
            for run in runs:
                if run.status not in _DONE:
                    execute_run(rt, run)
    except (RunFailed, CancelRequested) as stop:
        rt.in_atomic = False
        _rolled_back_atomically(rt, stop)
        return False
    finally:
        rt.in_atomic = False
    rt.journal.flush()  # when the target is another database, state is written after it
    return True


def _rolled_back_atomically(rt: Runtime, stop: BaseException) -> None:
    """The database rolled the whole deployment back (migrator's own rows with it when
    they live there): write down what happened, from the rows as they now are."""
    rt.journal.discard()
    deployment = rt.deployment
    deployment.refresh_from_db()
    cancelled = isinstance(stop, CancelRequested)
    message = "cancelled" if cancelled else str(stop)
    for run in runs_of(deployment):
        if run.status == Status.PENDING:
            rt.journal.transition(run, Status.RUNNING)
        if run.status == Status.RUNNING:
            rt.journal.transition(run, Status.ROLLING_BACK, message=message)
            rt.journal.transition(
                run, Status.ROLLED_BACK, message="rolled back with the deployment's transaction"
            )
    final = Status.CANCELLED if cancelled else Status.ROLLED_BACK
    if cancelled:
        rt.journal.transition(deployment, Status.CANCELLING)
    else:
        rt.journal.transition(
            deployment,
            Status.ROLLING_BACK,
            error=message,
            failure=getattr(stop, "detail", {}) or {"message": message},
            level="error",
        )
    rt.journal.transition(
        deployment,
        final,
        message="the database rolled back the whole deployment (atomic): nothing changed",
        cancel_requested=False,
    )
    rt.journal.flush()


def fail(rt: Runtime, failure: RunFailed) -> None:
    """A run failed for good: automatic rollback of the whole deployment, or stop here."""
    deployment = rt.deployment
    run = rt.current
    error = str(failure)
    detail = failure.detail or {"message": error}
    if run is not None and run.status not in (Status.FAILED, *FINISHED):
        rt.journal.transition(run, Status.FAILED, error=error, level="error")
    if rt.report is not None and run is not None:
        rt.report.run_failed(run, error)
    auto = deployment.options.get("auto_rollback", migrator_settings.AUTO_ROLLBACK)
    earlier = Run.objects.filter(
        deployment=deployment, direction="forward", status=Status.SUCCEEDED
    ).exists()
    nothing_to_undo = isinstance(failure, PlanStale) and not earlier
    if (
        rt.policy.dry_run
        or not auto
        or deployment.direction != "forward"
        or run is None
        or nothing_to_undo
    ):
        if rt.policy.dry_run and rt.report is not None:
            schema_after = rt.target.dialect.capture_schema()
            rt.journal.change(deployment, report=rt.report.as_dict(schema_after, error))
        rt.journal.transition(
            deployment, Status.FAILED, message=error, error=error, failure=detail, level="error"
        )
        rt.journal.flush()
        return
    rt.journal.transition(
        deployment,
        Status.ROLLING_BACK,
        message=error,
        error=error,
        failure=detail,
        phase=Phase.UNDO,
        level="error",
    )
    _plan_compensation(rt)
    rt.journal.flush()
    faults.point("rollback_started")
    auto_rollback(rt)


def _plan_compensation(rt: Runtime) -> None:
    """Append a backward run for every migration this deployment applied, newest first
    (once: a resumed rollback finds them); its callbacks are not migrations."""
    deployment = rt.deployment
    done = [
        run
        for run in Run.objects.filter(
            deployment=deployment, direction="forward", status=Status.SUCCEEDED
        )
        .select_related("migration")
        .order_by("-order")
        # A Flyway callback (beforeMigrate) is not taken back: it is no migration.
        if not (run.migration.repeatable and callback_event(run.migration.version))
    ]
    order = (deployment.runs.aggregate(last=Max("order"))["last"] or 0) + 1
    for offset, earlier in enumerate(done):
        rt.journal.create(
            Run(
                deployment=deployment,
                migration=earlier.migration,
                order=order + offset,
                direction="backward",
            )
        )


def auto_rollback(rt: Runtime) -> None:
    """Undo the failed run's committed steps, then every migration the deployment applied."""
    deployment = rt.deployment
    rt.board.phase = "rolling back"
    runs = runs_of(deployment)
    failed = [
        r
        for r in runs
        if r.direction == "forward"
        and r.status in (Status.FAILED, Status.ROLLING_BACK, Status.INTERRUPTED, Status.RUNNING)
    ]
    try:
        for run in failed:
            if run.status != Status.ROLLING_BACK:
                rt.journal.transition(run, Status.ROLLING_BACK)
                rt.journal.flush()
            undo_run(rt, run)
            rt.journal.transition(run, Status.ROLLED_BACK)
            rt.journal.flush()
        for run in runs:
            if run.direction == "backward" and run.status not in _DONE:
                execute_run(rt, run, controllable=False)
    except RunFailed as failure:
        _partially_rolled_back(rt, failure)
        return
    rt.journal.transition(
        deployment, Status.ROLLED_BACK, message="every change of this deployment was undone"
    )
    rt.journal.flush()
    schema_versions.record(deployment, rt.target)


def _partially_rolled_back(rt: Runtime, failure: RunFailed) -> None:
    deployment = rt.deployment
    run = rt.current
    if run is not None and run.status in (Status.RUNNING, Status.ROLLING_BACK):
        rt.journal.transition(run, Status.FAILED, error=str(failure), level="error")
    versions = {r.migration.version for r in runs_of(deployment)}
    still = list(
        Migration.objects.filter(
            database=deployment.database, applied=True, version__in=versions
        ).values_list("version", flat=True)
    )
    message = (
        f"automatic rollback stopped: {failure}; still applied from this deployment: "
        f"{', '.join(still) or 'none'}"
    )
    rt.journal.change(
        deployment,
        report={
            **(deployment.report or {}),
            "still_applied": still,
            "rollback_error": str(failure),
        },
    )
    rt.journal.transition(
        deployment,
        Status.PARTIALLY_ROLLED_BACK,
        message=message,
        error=f"{deployment.error}\n{message}".strip(),
        level="error",
    )
    rt.journal.flush()
