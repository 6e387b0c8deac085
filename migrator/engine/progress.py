"""Progress of a step: rows done, total estimate, rate and ETA; flushed to the state tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from ..models import Run, StepRun
from . import control

#: Called with a :class:`Snapshot` whenever progress moves (the CLI draws a bar with it).
Reporter = Callable[["Snapshot"], None]

FLUSH_SECONDS = 0.5

#: The reporter of deployments executed in this context (the CLI's inline runs).
_current_reporter: ContextVar[Reporter | None] = ContextVar("migrator_reporter", default=None)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Send the progress of deployments executed inside this block to ``reporter``."""
    token = _current_reporter.set(reporter)
    try:
        yield
    finally:
        _current_reporter.reset(token)


def current_reporter() -> Reporter | None:
    return _current_reporter.get()


@dataclass
class Snapshot:
    migration: str
    step: str
    done: int
    total: int | None
    rate: float
    eta_seconds: float | None
    finished: bool = False


class Progress:
    """Counts one step's rows; writes them to its StepRun and Run at most twice a second."""

    def __init__(
        self,
        *,
        run: Run,
        step_run: StepRun | None,
        label: str,
        step_name: str,
        deployment_id: int,
        reporter: Reporter | None = None,
        dry_run: bool = False,
        controllable: bool = True,
    ):
        self.run = run
        self.step_run = step_run
        self.label = label
        self.step_name = step_name
        self.deployment_id = deployment_id
        self.reporter = reporter
        self.dry_run = dry_run
        #: False for undo work: a rollback in progress is never paused or cancelled halfway.
        self.controllable = controllable
        self.done = 0
        self.total: int | None = None
        self.batches = 0
        self._start_done = 0
        self._started = time.monotonic()
        self._flushed_done = 0
        self._last_flush = 0.0

    def start(self, total: int | None, done: int = 0, batches: int = 0) -> None:
        self.total, self.done, self.batches = total, done, batches
        self._start_done = self._flushed_done = done
        self._started = time.monotonic()
        if self.total is not None and not self.dry_run:
            Run.objects.filter(pk=self.run.pk).update(
                rows_total=F("rows_done") + (total or 0) - done
            )
        self._report()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def batch(self, rows: int, cursor: Any = None) -> None:
        """One batch committed: count it, flush now and then, and honour pause/cancel."""
        self.done += max(rows, 0)
        self.batches += 1
        if self.dry_run:
            return
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_SECONDS:
            self.flush(cursor)
        if self.controllable:
            control.check(self.deployment_id)

    def flush(self, cursor: Any = None, finished: bool = False) -> None:
        """Write progress; a finished step's counts are written with its result instead."""
        if finished and self.step_run is not None:
            if cursor is not None:
                self.step_run.cursor = {**(self.step_run.cursor or {}), **cursor}
            self._report(finished)
            return
        if not self.dry_run:
            delta = self.done - self._flushed_done
            if self.step_run is not None:
                if cursor is not None:  # merged: the cursor also lists capture tables
                    self.step_run.cursor = {**(self.step_run.cursor or {}), **cursor}
                StepRun.objects.filter(pk=self.step_run.pk).update(
                    rows_affected=self.done, batches_done=self.batches, cursor=self.step_run.cursor
                )
            if delta:
                Run.objects.filter(pk=self.run.pk).update(rows_done=F("rows_done") + delta)
            self._flushed_done = self.done
        self._last_flush = time.monotonic()
        self._report(finished)

    def _report(self, finished: bool = False) -> None:
        if self.reporter is None:
            return
        rate = self.rate
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - self.done, 0) / rate
        self.reporter(
            Snapshot(self.label, self.step_name, self.done, self.total, rate, eta, finished)
        )
