"""One deployment at a time per target database, and telling whether a worker is alive.

With advisory locks (PostgreSQL) the lock is a session lock held by the worker's own
connection to the target: the server releases it when that session ends, so a killed
worker never leaves it behind, and whether it is held is checked *in that database*.
Without them (SQLite) the ``TargetLock`` row is the lock. Either way the row says who
holds the target (host, pid, session, deployment).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import migrator_settings
from ..dialects import state_atomic
from ..exceptions import OperationFailed
from ..models import Deployment, TargetLock
from ..states import Status
from .target import Target

HOST = socket.gethostname()


class LockHeld(OperationFailed):
    """The target is held by another deployment (``holder``: its lock row, if any)."""

    def __init__(self, message: str, holder: TargetLock | None = None) -> None:
        super().__init__(message)
        self.holder = holder


def advisory_key(database: str) -> int:
    """A stable signed 64-bit key per target alias (advisory locks are per database)."""
    digest = hashlib.sha256(f"migrator:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def worker_id() -> str:
    return f"{HOST}:{os.getpid()}"


def describe(lock: TargetLock | None) -> str:
    if lock is None:
        return "another session"
    age = (timezone.now() - lock.heartbeat_at).total_seconds()
    return (
        f"deployment #{lock.deployment_id} on {lock.host} pid {lock.pid} "
        f"(since {lock.acquired_at:%Y-%m-%d %H:%M:%S}, last heartbeat {age:.0f}s ago)"
    )


def is_stale(moment: object) -> bool:
    """Whether a heartbeat taken at ``moment`` is older than ``STALE_AFTER_SECONDS``."""
    if moment is None:
        return True
    limit = timedelta(seconds=migrator_settings.STALE_AFTER_SECONDS)
    return bool(timezone.now() - moment > limit)  # type: ignore[operator]


def process_alive(worker: str) -> bool | None:
    """Whether ``host:pid`` is a live process: None when it runs on another host."""
    host, _, pid = worker.rpartition(":")
    if host != HOST or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _state_atomic() -> transaction.Atomic:
    return state_atomic()


# A deployment records its end (succeeded, paused, failed...) and then releases the
# target: someone who saw that end and starts the next deployment at once must not be
# refused for the moment in between. Bounded: a holder that never lets go is reported.
RELEASE_GRACE_SECONDS = 10.0
_RECORDED_ITS_END = frozenset(
    {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
        Status.ROLLED_BACK,
        Status.PARTIALLY_ROLLED_BACK,
        Status.PAUSED,
        Status.INTERRUPTED,
    }
)


@contextmanager
def hold(target: Target, deployment: Deployment) -> Iterator[None]:
    """Hold ``target`` for ``deployment`` or raise :class:`LockHeld` naming the holder.

    A holder whose deployment has already recorded its end is only letting go: it is
    waited for (up to ``RELEASE_GRACE_SECONDS``) instead of refused. So is an earlier
    worker of ``deployment`` itself, still alive: it could only be queued again (resumed)
    once that worker had recorded where it stopped."""
    deadline = time.monotonic() + RELEASE_GRACE_SECONDS
    while True:
        try:
            release = _try_hold(target, deployment)
            break
        except LockHeld as exc:
            # None: between the row and the lock, on its way in or out.
            if time.monotonic() >= deadline or not (
                exc.holder is None or letting_go(exc.holder, resumed=deployment.pk)
            ):
                raise
            time.sleep(0.05)
    try:
        yield
    finally:
        release()


def letting_go(lock: TargetLock, *, resumed: int | None = None) -> bool:
    """Whether the holder of ``lock`` has recorded its deployment's end (or holds it for
    deployment ``resumed``, queued again since) and is only about to release the target
    (its worker still alive)."""
    if lock.deployment_id is None:
        return False
    if lock.deployment_id != resumed:
        status = Deployment.objects.filter(pk=lock.deployment_id).values_list("status", flat=True)
        if status.first() not in _RECORDED_ITS_END:
            return False
    return lock_holder_alive(lock)


def _try_hold(target: Target, deployment: Deployment) -> Callable[[], None]:
    dialect = target.dialect
    now = timezone.now()
    row = TargetLock(
        database=target.alias,
        deployment=deployment,
        host=HOST,
        pid=os.getpid(),
        session=dialect.session_id(),
        acquired_at=now,
        heartbeat_at=now,
    )
    if dialect.advisory_locks:
        key = advisory_key(target.alias)
        if not dialect.try_advisory_lock(key):
            holder = TargetLock.objects.filter(database=target.alias).first()
            raise LockHeld(f"{target.alias} is locked by {describe(holder)}", holder)
        try:
            # The advisory lock is the truth; the row tells who holds it.
            with _state_atomic():
                TargetLock.objects.filter(database=target.alias).delete()
                row.save()
        except BaseException:
            dialect.advisory_unlock(key)
            raise

        def unlock() -> None:
            try:
                TargetLock.objects.filter(database=target.alias, deployment=deployment).delete()
            finally:
                dialect.advisory_unlock(key)

        return unlock
    try:
        with _state_atomic():
            row.save()
    except IntegrityError:
        current = TargetLock.objects.filter(database=target.alias).first()
        hint = (
            " Its worker is gone: run `migrator recover`."
            if current is not None and not lock_holder_alive(current)
            else ""
        )
        raise LockHeld(f"{target.alias} is locked by {describe(current)}.{hint}", current) from None

    def delete_row() -> None:
        TargetLock.objects.filter(pk=row.pk).delete()

    return delete_row


def lock_holder_alive(lock: TargetLock) -> bool:
    """Whether the holder of a lock row still runs (advisory lock held, or its process)."""
    target = Target(lock.database)
    if target.dialect.advisory_locks:
        return target.dialect.advisory_lock_held(advisory_key(lock.database))
    alive = process_alive(f"{lock.host}:{lock.pid}")
    if alive is not None:
        return alive
    return not is_stale(lock.heartbeat_at)


def advisory_lock_is_held(target: Target) -> bool:
    """Whether a session of the target's own database holds its advisory lock."""
    dialect = target.dialect
    return dialect.advisory_locks and dialect.advisory_lock_held(advisory_key(target.alias))
