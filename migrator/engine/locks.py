"""One deployment at a time per target database.

PostgreSQL: a session advisory lock held by the worker's connection to the target; the
server releases it when that session ends, so a killed worker never leaves it behind.
Other databases (SQLite): a row in ``TargetLock`` with a heartbeat; a stale row needs
``migrator unlock``. On both, the row says who holds the target (host, pid, deployment).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, router, transaction
from django.utils import timezone

from ..conf import migrator_settings
from ..exceptions import OperationFailed
from ..models import Deployment, TargetLock
from .target import Target


class LockHeld(OperationFailed):
    """The target is held by another deployment."""


def advisory_key(database: str) -> int:
    """A stable signed 64-bit key per target alias."""
    digest = hashlib.sha256(f"migrator:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def describe(lock: TargetLock | None) -> str:
    if lock is None:
        return "another session"
    age = (timezone.now() - lock.heartbeat_at).total_seconds()
    return (
        f"deployment #{lock.deployment_id} on {lock.host} pid {lock.pid} "
        f"(since {lock.acquired_at:%Y-%m-%d %H:%M:%S}, last heartbeat {age:.0f}s ago)"
    )


def is_stale(lock: TargetLock) -> bool:
    limit = timedelta(seconds=migrator_settings.STALE_AFTER_SECONDS)
    return timezone.now() - lock.heartbeat_at > limit


def _holder_row(database: str, deployment: Deployment) -> TargetLock:
    now = timezone.now()
    return TargetLock(
        database=database,
        deployment=deployment,
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        heartbeat_at=now,
    )


def _state_atomic() -> transaction.Atomic:
    return transaction.atomic(using=router.db_for_write(TargetLock))


@contextmanager
def hold(target: Target, deployment: Deployment) -> Iterator[None]:
    """Hold ``target`` for ``deployment`` or raise :class:`LockHeld` naming the holder."""
    row = _holder_row(target.alias, deployment)
    if target.vendor == "postgresql":
        key = advisory_key(target.alias)
        if not target.scalar("SELECT pg_try_advisory_lock(%s)", [key]):
            raise LockHeld(
                f"{target.alias} is locked by {describe(TargetLock.objects.filter(database=target.alias).first())}"
            )
        try:
            # The advisory lock is the truth; the row only tells who holds it.
            with _state_atomic():
                TargetLock.objects.filter(database=target.alias).delete()
                row.save()
            yield
        finally:
            TargetLock.objects.filter(database=target.alias, deployment=deployment).delete()
            target.scalar("SELECT pg_advisory_unlock(%s)", [key])
        return
    try:
        with _state_atomic():
            row.save()
    except IntegrityError:
        current = TargetLock.objects.filter(database=target.alias).first()
        hint = (
            " It looks stale: check that worker, then `migrator unlock`."
            if current and is_stale(current)
            else ""
        )
        raise LockHeld(f"{target.alias} is locked by {describe(current)}.{hint}") from None
    try:
        yield
    finally:
        TargetLock.objects.filter(pk=row.pk).delete()


def advisory_lock_is_held(target: Target) -> bool:
    """PostgreSQL: whether any session holds the target's advisory lock right now."""
    if target.vendor != "postgresql":
        return False
    key = advisory_key(target.alias)
    classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    return bool(
        target.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s "
            "AND objid::bigint = %s AND granted",
            [classid, objid],
        )
    )
