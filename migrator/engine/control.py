"""Cooperative control between batches, and the heartbeat of a running run."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections
from django.utils import timezone

from ..conf import migrator_settings
from ..models import Deployment, Run, TargetLock

logger = logging.getLogger("migrator")


class PauseRequested(Exception):
    """An operator asked the deployment to pause; raised between batches or steps."""


class CancelRequested(Exception):
    """An operator asked the deployment to cancel; raised between batches or steps."""


def check(deployment_id: int) -> None:
    """Raise if pause or cancel was requested. One indexed read: cheap between batches."""
    flags = (
        Deployment.objects.filter(pk=deployment_id)
        .values_list("pause_requested", "cancel_requested")
        .first()
    )
    if flags is None:
        return
    pause, cancel = flags
    if cancel:
        raise CancelRequested
    if pause:
        raise PauseRequested


class Heartbeat:
    """A thread that stamps the run and the target lock every ``HEARTBEAT_SECONDS``.

    A thread, not calls between batches, so that one long statement (an index build) does
    not make a live run look dead to ``recover``.
    """

    def __init__(self, run: Run, database: str):
        self.run_id = run.pk
        self.database = database
        self.interval = migrator_settings.HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"migrator-heartbeat-{run.pk}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.beat()

    def beat(self) -> None:
        now = timezone.now()
        Run.objects.filter(pk=self.run_id).update(heartbeat_at=now)
        TargetLock.objects.filter(database=self.database).update(heartbeat_at=now)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                    logger.warning("heartbeat of run %s failed", self.run_id, exc_info=True)
                    close_old_connections()
        finally:
            connections.close_all()
