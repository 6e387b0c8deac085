"""The one executor of deployments, live and dry.

:func:`execute` takes a deployment's primary key (any worker can run any deployment:
everything it needs, including where to resume, is in the database), then:

1. takes the target's lock (a deployment that loses the race is marked failed, never
   started, and its runs re-check their migration's state if it is ever resumed);
2. claims the deployment with a compare-and-set from ``queued`` (so two jobs for one
   deployment, or a job racing a cancel or a recover, never both run it);
3. beats a heartbeat with live progress, and drives it (:mod:`.lifecycle`) to a terminal
   state, a pause, or an interruption it records; whatever is raised.
"""

from __future__ import annotations

import logging
import traceback

from django.db import close_old_connections
from django.utils import timezone

from ..heap import long_lived_frozen
from ..models import Deployment
from ..models.execution import Phase
from ..states import Status
from . import faults, lifecycle, locks
from .checkpoints import ensure_table
from .control import Flags, Heartbeat
from .journal import Journal, compare_and_set
from .policy import policy_for
from .progress import Board, Reporter, current_reporter
from .report import DryRunReport
from .runtime import Runtime
from .specs import one_catalog
from .target import Target

logger = logging.getLogger("migrator")

_STARTS = {
    Phase.WORK: Status.RUNNING,
    Phase.UNDO: Status.ROLLING_BACK,
    Phase.CANCEL: Status.CANCELLING,
}


def execute(deployment_id: int, reporter: Reporter | None = None) -> Deployment | None:
    """Run (or resume) a queued deployment to its end, a pause or a failure."""
    with long_lived_frozen():
        return _execute(deployment_id, reporter)


def _execute(deployment_id: int, reporter: Reporter | None) -> Deployment | None:
    reporter = reporter or current_reporter()
    # The plan is for people (the console, the CLI): the runs are rows of their own. Its
    # JSON grows with the catalog (half a megabyte for a thousand migrations) and is
    # loaded only if asked for.
    deployment = Deployment.objects.defer("plan").filter(pk=deployment_id).first()
    if deployment is None or deployment.status != Status.QUEUED:
        return deployment  # finished, taken by another worker, or cancelled meanwhile
    try:
        with locks.hold(Target(deployment.database), deployment):
            faults.point("before_claim")
            claimed = compare_and_set(
                deployment,
                {Status.QUEUED},
                _STARTS[Phase(deployment.phase)],
                worker=locks.worker_id(),
                heartbeat_at=timezone.now(),
                progress={},
            )
            if claimed:
                faults.point("claimed")
                _run_claimed(deployment, reporter)
    except locks.LockHeld as exc:
        compare_and_set(
            deployment,
            {Status.QUEUED},
            Status.FAILED,
            message=f"not started: {exc}",
            error=f"not started: {exc}",
            level="error",
        )
    deployment.refresh_from_db()  # what is deferred stays so
    return deployment


def _run_claimed(deployment: Deployment, reporter: Reporter | None) -> None:
    policy = policy_for(deployment)
    board = Board()
    rt = Runtime(
        deployment=deployment,
        target=Target(deployment.database),
        policy=policy,
        journal=Journal(deployment),
        board=board,
        flags=Flags(deployment.pk),
        reporter=reporter,
    )
    rt.journal.on_events = board.written
    try:
        with (
            Heartbeat(deployment, board),
            one_catalog(),
            policy.workspace(deployment.database) as work_alias,
        ):
            rt.target = Target(deployment.database, work_alias)
            ensure_table(rt.target)
            if policy.dry_run:
                rt.report = DryRunReport(rt.target.dialect.capture_schema())
            lifecycle.drive(rt)
    except Exception as exc:  # noqa: BLE001 - before or around the drive: still recorded
        lifecycle.crash(rt, exc)
    except BaseException as exc:
        # The worker is being stopped (SIGTERM, Ctrl-C): not a failure of the deployment,
        # which resumes from its checkpoint.
        _interrupted(rt, exc)
        raise


def _interrupted(rt: Runtime, exc: BaseException) -> None:
    message = f"worker stopped ({type(exc).__name__}); resume it"
    logger.warning("deployment #%s: %s", rt.deployment.pk, message)
    rt.journal.discard()
    try:
        close_old_connections()
        lifecycle.record_failure(
            rt,
            message,
            {"message": message, "traceback": "".join(traceback.format_exception(exc))},
            status=Status.INTERRUPTED,
        )
    except Exception:  # noqa: BLE001 - recover will find it
        logger.exception("could not record the interruption of deployment #%s", rt.deployment.pk)
