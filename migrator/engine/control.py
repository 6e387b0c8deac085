"""Cooperative control between batches, and the heartbeat of a running run."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connections
from django.utils import timezone

from ..conf import migrator_settings
from ..models import Deployment, Run, TargetLock

logger = logging.getLogger("migrator")


class PauseRequested(Exception):
    """An operator asked the deployment to pause; raised between batches or steps."""


class CancelRequested(Exception):
    """An operator asked the deployment to cancel; raised between batches or steps."""


#: Flags are read at most this often: pause/cancel answer within 0.2 s, and a deployment
#: of many tiny migrations does not pay a query per step.
CHECK_INTERVAL = 0.2
_last_check: dict[int, float] = {}


def check(deployment_id: int, force: bool = False) -> None:
    """Raise if pause or cancel was requested (read at most every ``CHECK_INTERVAL``)."""
    now = time.monotonic()
    if not force and now - _last_check.get(deployment_id, 0.0) < CHECK_INTERVAL:
        return
    _last_check[deployment_id] = now
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


def forget(deployment_id: int) -> None:
    """Drop the read-rate bookkeeping of a deployment whose execution ended."""
    _last_check.pop(deployment_id, None)


class Heartbeat:
    """A thread that stamps the current run and the target lock every ``HEARTBEAT_SECONDS``.

    A thread, not calls between batches, so that one long statement (an index build) does
    not make a live run look dead to ``recover``. One per deployment: ``run`` is switched
    as the deployment moves from run to run.
    """

    _local = threading.local()

    def __init__(self, database: str):
        self.database = database
        self.run: Run | None = None
        self.interval = migrator_settings.HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"migrator-heartbeat-{database}", daemon=True
        )

    @classmethod
    def current(cls) -> Heartbeat | None:
        """The heartbeat of the deployment this thread is executing, if any."""
        return getattr(cls._local, "heartbeat", None)

    def __enter__(self) -> Heartbeat:
        # The first beat of each run is its own move to running (set_status stamps it).
        self._previous = Heartbeat.current()
        Heartbeat._local.heartbeat = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        Heartbeat._local.heartbeat = self._previous
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def beat(self) -> None:
        now = timezone.now()
        run = self.run
        if run is not None:
            Run.objects.filter(pk=run.pk).update(heartbeat_at=now)
        TargetLock.objects.filter(database=self.database).update(heartbeat_at=now)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                    logger.warning("heartbeat of %s failed", self.database, exc_info=True)
                    close_old_connections()
        finally:
            connections.close_all()
