"""Cooperative control between batches and steps, and the heartbeat of a deployment."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connections
from django.utils import timezone

from ..conf import migrator_settings
from ..dialects import state_atomic
from ..models import Deployment, TargetLock
from .progress import Board

logger = logging.getLogger("migrator")


class PauseRequested(Exception):
    """An operator asked the deployment to pause; raised between batches or steps."""


class CancelRequested(Exception):
    """An operator asked the deployment to cancel; raised between batches or steps."""


class Flags:
    """Reads a deployment's pause and cancel flags, at most every ``interval`` seconds, so
    that pause answers within a fraction of a second and many tiny steps do not pay a
    query each."""

    def __init__(self, deployment_id: int, interval: float = 0.2):
        self.deployment_id = deployment_id
        self.interval = interval
        self._last = 0.0

    def due(self) -> bool:
        """Whether the next :meth:`check` reads the flags (a query)."""
        return time.monotonic() - self._last >= self.interval

    def check(self, force: bool = False, allow_pause: bool = True) -> None:
        """Raise :class:`CancelRequested` or :class:`PauseRequested` if asked for (a
        deployment running as one transaction cannot pause: it holds the transaction)."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        flags = (
            Deployment.objects.filter(pk=self.deployment_id)
            .values_list("pause_requested", "cancel_requested")
            .first()
        )
        if flags is None:
            return
        pause, cancel = flags
        if cancel:
            raise CancelRequested
        if pause and allow_pause:
            raise PauseRequested


class Heartbeat:
    """A thread stamping the deployment (with its live progress) and its target lock.

    A thread, not calls between batches, so that one long statement (an index build) still
    beats and the console still moves. Its own database connection, closed at the end.
    """

    def __init__(self, deployment: Deployment, board: Board, interval: float | None = None):
        self.deployment_id = deployment.pk
        self.database = deployment.database
        self.board = board
        self.interval = interval or migrator_settings.HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"migrator-heartbeat-{deployment.pk}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 30)
        try:
            # The last events and numbers, for a page that polls the snapshot.
            Deployment.objects.filter(pk=self.deployment_id).update(progress=self.board.snapshot())
        except Exception:  # noqa: BLE001 - the record itself is written; this is display
            logger.warning("last snapshot of deployment %s failed", self.deployment_id)

    def beat(self) -> None:
        now = timezone.now()
        # One transaction holding the write lock from its start (SQLite): its statements
        # are prepared against a schema nobody can change meanwhile. Without it, a stream
        # of small DDL migrations could change the schema faster than this connection
        # reloads it ("database schema has changed").
        with state_atomic(savepoint=False):
            Deployment.objects.filter(pk=self.deployment_id).update(
                heartbeat_at=now, progress=self.board.snapshot()
            )
            TargetLock.objects.filter(
                database=self.database, deployment_id=self.deployment_id
            ).update(heartbeat_at=now)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                    logger.warning(
                        "heartbeat of deployment %s failed", self.deployment_id, exc_info=True
                    )
                    close_old_connections()
        finally:
            connections.close_all()
