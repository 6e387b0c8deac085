"""Deployment, run and step-run states, and the one place that says which changes are allowed.

Every status change goes through :func:`check_transition`; anything else is a bug or a
race. The tables are read top-down as "from this state, these are the next ones".
"""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval", "awaiting approval"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    ROLLING_BACK = "rolling_back", "rolling back"
    ROLLED_BACK = "rolled_back", "rolled back"
    #: The automatic rollback stopped partway: the report lists what stays applied.
    PARTIALLY_ROLLED_BACK = "partially_rolled_back", "partially rolled back"
    INTERRUPTED = "interrupted"
    #: Step runs only: a failed step whose ``on_error`` is ``skip``, or one a dry run
    #: could not execute.
    SKIPPED = "skipped"


S = Status

#: Deployments. A worker only ever starts from ``queued`` (claimed with a compare-and-set),
#: so resume, retry and cancel of a paused deployment all go back through ``queued``.
DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.AWAITING_APPROVAL, S.QUEUED, S.SUCCEEDED, S.CANCELLED, S.FAILED}),
    S.AWAITING_APPROVAL: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset(
        {S.RUNNING, S.CANCELLING, S.ROLLING_BACK, S.CANCELLED, S.INTERRUPTED, S.FAILED}
    ),
    S.RUNNING: frozenset(
        {S.PAUSING, S.SUCCEEDED, S.FAILED, S.CANCELLING, S.ROLLING_BACK, S.INTERRUPTED}
    ),
    S.PAUSING: frozenset({S.PAUSED, S.FAILED, S.CANCELLING, S.ROLLING_BACK, S.INTERRUPTED}),
    S.PAUSED: frozenset({S.QUEUED, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.FAILED, S.INTERRUPTED}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.PARTIALLY_ROLLED_BACK, S.FAILED, S.INTERRUPTED}),
    S.INTERRUPTED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.QUEUED, S.ROLLING_BACK}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ROLLED_BACK: frozenset(),
    S.PARTIALLY_ROLLED_BACK: frozenset(),
}

#: Runs: one migration in one direction.
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset(
        {S.PAUSING, S.SUCCEEDED, S.FAILED, S.CANCELLING, S.ROLLING_BACK, S.INTERRUPTED}
    ),
    S.PAUSING: frozenset({S.PAUSED, S.RUNNING, S.FAILED, S.CANCELLING, S.INTERRUPTED}),
    S.PAUSED: frozenset({S.RUNNING, S.CANCELLING, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.FAILED, S.INTERRUPTED}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.FAILED, S.INTERRUPTED}),
    S.INTERRUPTED: frozenset({S.RUNNING, S.CANCELLING, S.ROLLING_BACK, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.RUNNING, S.ROLLING_BACK}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ROLLED_BACK: frozenset(),
}

#: Step runs: one step of a run.
STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING, S.SKIPPED}),
    S.RUNNING: frozenset(
        {S.SUCCEEDED, S.FAILED, S.SKIPPED, S.PAUSED, S.INTERRUPTED, S.ROLLED_BACK}
    ),
    S.PAUSED: frozenset({S.RUNNING, S.ROLLED_BACK, S.FAILED}),
    S.INTERRUPTED: frozenset({S.RUNNING, S.ROLLED_BACK, S.FAILED}),
    S.FAILED: frozenset({S.RUNNING, S.ROLLED_BACK}),
    S.SUCCEEDED: frozenset({S.ROLLED_BACK}),
    S.SKIPPED: frozenset(),
    S.ROLLED_BACK: frozenset(),
}

#: Backwards compatible name: the deployment table.
TRANSITIONS = DEPLOYMENT_TRANSITIONS

#: Somebody (a worker) is working on these right now.
ACTIVE = frozenset({S.QUEUED, S.RUNNING, S.PAUSING, S.CANCELLING, S.ROLLING_BACK})
#: Runs and deployments a worker is (or was, if it died) in the middle of.
IN_FLIGHT = frozenset({S.RUNNING, S.PAUSING, S.PAUSED, S.CANCELLING, S.ROLLING_BACK, S.INTERRUPTED})
#: Nothing will ever change these again.
FINISHED = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.ROLLED_BACK, S.PARTIALLY_ROLLED_BACK})
TERMINAL = FINISHED - {S.FAILED}
#: Deployments in these states still own their target: nothing else may start there.
UNFINISHED = frozenset({S.PENDING, S.AWAITING_APPROVAL, *ACTIVE, S.PAUSED, S.INTERRUPTED})
#: A deployment stops moving in these (the CLI's wait returns).
STOPPED = FINISHED | {S.PAUSED, S.INTERRUPTED, S.AWAITING_APPROVAL}


class InvalidTransition(Exception):
    """A status change that the transition tables do not allow."""


def check_transition(
    current: str, new: str, table: dict[str, frozenset[str]] | None = None
) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> new`` is allowed in ``table``."""
    allowed = (table or DEPLOYMENT_TRANSITIONS).get(current, frozenset())
    if new not in allowed:
        raise InvalidTransition(f"cannot go from {current!r} to {new!r}")
