"""Checks services start with."""

from __future__ import annotations

from django.db import connections
from django.db.utils import DatabaseError

from ..catalog.sync import sync_lock
from ..engine import locks
from ..exceptions import BadInput, OperationFailed
from ..models import Deployment, Migration, TargetLock
from ..states import UNFINISHED


def require_tables() -> None:
    try:
        Migration.objects.exists()
    except DatabaseError as exc:
        raise BadInput(
            "migrator's tables are missing: run `python manage.py migrate` first"
        ) from exc


def check_database(database: str) -> None:
    if database not in connections.databases:
        raise BadInput(
            f"unknown database alias {database!r}: use one of {sorted(connections.databases)}"
        )


def holder(database: str) -> str | None:
    """Who keeps ``database`` busy: a live lock or an unfinished deployment.

    A lock whose deployment has recorded its end is not: the next deployment waits the
    moment it takes to be released (:func:`locks.hold`)."""
    lock = TargetLock.objects.filter(database=database).first()
    if lock is not None and not locks.letting_go(lock):
        return locks.describe(lock)
    busy = Deployment.objects.filter(database=database, status__in=list(UNFINISHED)).first()
    if busy is not None:
        return f"deployment #{busy.pk} ({busy.status}, requested by {busy.requested_by})"
    return None


def refuse_if_busy(database: str) -> None:
    """Inside the caller's transaction: no deployment is under way on ``database`` (one
    trusts the applied state it loaded when it started), and none can be created until
    the transaction ends."""
    with sync_lock():
        busy = holder(database)
    if busy:
        raise OperationFailed(f"{database} is busy: {busy}")
