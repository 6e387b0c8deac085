"""Progress of the step being executed: rows done, total, rate and ETA.

The numbers live in memory; three readers take them: the CLI's reporter (a bar or log
lines, on every change), the heartbeat thread (a snapshot on the deployment row every
second, which is what the console polls), and the step's result when it finishes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

#: Called with a :class:`Snapshot` whenever progress moves (the CLI draws a bar with it).
Reporter = Callable[["Snapshot"], None]

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


class Board:
    """What the deployment is doing right now, shared with the heartbeat thread."""

    #: Events the console shows live (the newest; the deployment page has them all).
    RECENT = 30

    def __init__(self, runs_total: int = 0):
        self._lock = threading.Lock()
        self.runs_total = runs_total
        self.runs_done = 0
        self.current: Progress | None = None
        self.run_id: int | None = None
        self.phase = ""
        self._recent: deque[tuple[int, Any]] = deque(maxlen=self.RECENT)
        self._seen = 0

    def written(self, events: list[Any]) -> None:
        """Events just written: the snapshot carries the newest, numbered, so that a live
        page polling only the deployment row sees them (one query per poll). Kept as
        they are and described when a snapshot is taken (once a second, not per flush)."""
        with self._lock:
            for event in events:
                self._seen += 1
                self._recent.append((self._seen, event))

    @staticmethod
    def _describe(seq: int, event: Any) -> dict[str, Any]:
        return {
            "seq": seq,
            "id": event.pk,
            "time": event.time.isoformat(),
            "level": event.level,
            "actor": event.actor,
            "message": event.message,
        }

    def show(self, progress: Progress | None, run_id: int | None = None) -> None:
        with self._lock:
            self.current = progress
            if run_id is not None:
                self.run_id = run_id

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            progress = self.current
            data: dict[str, Any] = {
                "runs_done": self.runs_done,
                "runs_total": self.runs_total,
                "run": self.run_id,
                "phase": self.phase,
                "updated_at": time.time(),
                "events": [self._describe(seq, event) for seq, event in self._recent],
            }
        if progress is not None:
            data.update(progress.numbers())
        return data


class Progress:
    """Counts one step's rows and batches; reports every change."""

    def __init__(
        self,
        *,
        label: str,
        step_name: str,
        reporter: Reporter | None = None,
        on_batch: Callable[[], None] | None = None,
    ):
        self.label = label
        self.step_name = step_name
        self.reporter = reporter
        #: Called after every committed batch (pause and cancel are checked there).
        self.on_batch = on_batch
        self.done = 0
        self.total: int | None = None
        self.batches = 0
        self._start_done = 0
        self._started = time.monotonic()

    def start(self, total: int | None, done: int = 0, batches: int = 0) -> None:
        self.total, self.done, self.batches = total, done, batches
        self._start_done = done
        self._started = time.monotonic()
        self._report()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if self.total is None or rate <= 0:
            return None
        return max(self.total - self.done, 0) / rate

    def batch(self, rows: int) -> None:
        """One batch committed: count it, report it, let the caller check its flags."""
        self.done += max(rows, 0)
        self.batches += 1
        self._report()
        if self.on_batch is not None:
            self.on_batch()

    def set(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        self._report()

    def finish(self) -> None:
        self._report(finished=True)

    def numbers(self) -> dict[str, Any]:
        return {
            "migration": self.label,
            "step": self.step_name,
            "done": self.done,
            "total": self.total,
            "batches": self.batches,
            "rate": round(self.rate, 1),
            "eta_seconds": round(self.eta, 1) if self.eta is not None else None,
        }

    def _report(self, finished: bool = False) -> None:
        if self.reporter is None:
            return
        self.reporter(
            Snapshot(
                self.label, self.step_name, self.done, self.total, self.rate, self.eta, finished
            )
        )


def snapshot_dict(snapshot: Snapshot) -> dict[str, Any]:
    return asdict(snapshot)
