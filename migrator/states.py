"""Run and deployment states, and the one table of allowed transitions."""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    INTERRUPTED = "interrupted"
    #: Step runs only: a failed step whose ``on_error`` is ``skip``.
    SKIPPED = "skipped"


S = Status

#: Allowed transitions, shared by deployments and runs. Anything else is a bug or a race.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.QUEUED, S.RUNNING, S.CANCELLED, S.FAILED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.INTERRUPTED, S.FAILED, S.CANCELLING}),
    S.RUNNING: frozenset(
        {S.PAUSING, S.SUCCEEDED, S.FAILED, S.CANCELLING, S.ROLLING_BACK, S.INTERRUPTED}
    ),
    S.PAUSING: frozenset({S.PAUSED, S.RUNNING, S.FAILED, S.CANCELLING, S.INTERRUPTED}),
    S.PAUSED: frozenset({S.QUEUED, S.RUNNING, S.CANCELLING, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.ROLLING_BACK, S.FAILED, S.INTERRUPTED}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.FAILED, S.INTERRUPTED}),
    S.INTERRUPTED: frozenset({S.QUEUED, S.RUNNING, S.CANCELLING, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.QUEUED, S.RUNNING, S.ROLLING_BACK}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ROLLED_BACK: frozenset(),
    S.SKIPPED: frozenset(),
}

ACTIVE = frozenset({S.QUEUED, S.RUNNING, S.PAUSING, S.CANCELLING, S.ROLLING_BACK})
FINISHED = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.ROLLED_BACK})
#: Deployments in these states still own their target: nothing else may start there.
UNFINISHED = frozenset({S.PENDING, *ACTIVE, S.PAUSING, S.PAUSED, S.INTERRUPTED})


class InvalidTransition(Exception):
    """A status change that :data:`TRANSITIONS` does not allow."""


def check_transition(current: str, new: str) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> new`` is allowed."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"cannot go from {current!r} to {new!r}")
