"""What a step kind is given to do its work: the step, where it runs, and its bookkeeping."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf import migrator_settings
from ..dialects import Dialect, Statement, split_statements
from .checkpoints import Checkpoints
from .progress import Progress
from .target import Target

if TYPE_CHECKING:
    from ..catalog.spec import StepSpec
    from ..models import Deployment, Run, StepRun
    from .journal import Journal
    from .sql import SentStatements


def where_of(version: str, order: int, step_name: str) -> str:
    """How a step is named at the start of its messages."""
    return f"{version} step {order} ({step_name}): "


class Deferred:
    """Work a step kind left running for the server while the step's record is built (a
    script sent whole): :meth:`settle` waits for it and records its outcome once (its
    failure raised every time), :meth:`end` leaves the connection usable."""

    def __init__(self, wait: Callable[[], None], end: Callable[[], None]):
        self._wait = wait
        self._end = end
        self._settled = False

    def settle(self) -> None:
        if not self._settled:
            self._wait()
            self._settled = True

    def end(self) -> None:
        self._end()


@dataclass
class StepExecution:
    """One step executed in one direction, with everything its kind needs.

    ``direction`` is ``forward``, ``backward`` (a rollback run) or ``undo`` (a forward run's
    partial work being taken back). Captured values always belong to ``forward_run_id``.
    """

    target: Target
    deployment: Deployment
    run: Run
    step_run: StepRun
    step: StepSpec
    #: 1-based position of the step in its migration (forward order).
    order: int
    direction: str
    forward_run_id: int
    checkpoints: Checkpoints
    progress: Progress
    dry_run: bool = False
    #: The step did part of its work and failed (undo takes back only what committed).
    partial: bool = False
    #: Where ``ctx.log()`` and notable moments are recorded.
    journal: Journal | None = None
    #: Statements, validations and timings, for dry-run reports.
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: The kind may leave its work running while the step's record is built (set by the
    #: step's runner where that record follows it in the same transaction and commit).
    may_defer: bool = False
    #: What it left running, if it did.
    deferred: Deferred | None = None
    #: Its statements, sent before the run's bookkeeping (see :mod:`.ahead`).
    sent_ahead: SentStatements | None = None

    @property
    def dialect(self) -> Dialect:
        return self.target.dialect

    @property
    def where(self) -> str:
        return where_of(self.run.migration.version, self.order, self.step.name)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.deployment.options.get("params", {}))

    @property
    def batch_size(self) -> int:
        return int(self.step.options.get("batch_size") or migrator_settings.BATCH_SIZE)

    def statements(self, script: str) -> tuple[Statement, ...]:
        """``script`` split into statements once per process (scripts repeat across runs)."""
        return split_statements(self.dialect.vendor, script)

    def note(self, **entry: Any) -> None:
        self.notes.append({"time": time.time(), **entry})

    @contextmanager
    def batch_transaction(self) -> Iterator[None]:
        """A transaction for one batch and its checkpoint (committed without waiting for
        the WAL flush where the database allows it: losing it on a crash loses both)."""
        with self.target.atomic():
            committer = getattr(self.dialect, "asynchronous_commit", None)
            if committer is not None and not self.dry_run:
                committer()
            yield

    @contextmanager
    def limits(self) -> Iterator[None]:
        """The step's ``timeout`` and ``lock_timeout`` options around its statements."""
        options = self.step.options
        with self.dialect.limits(
            timeout=options.get("timeout"), lock_timeout=options.get("lock_timeout")
        ):
            yield

    def throttle(self, rows: int, started: float) -> None:
        """Pause between batches, or cap rows per second, as the step's options say."""
        delay = throttle_delay(self.step.options, rows, time.monotonic() - started)
        if delay > 0 and not self.dry_run:
            time.sleep(delay)


def throttle_delay(options: dict[str, Any], rows: int, elapsed: float) -> float:
    """Seconds to wait after a batch of ``rows`` that took ``elapsed`` seconds: at least
    ``pause_between_batches``, and enough to keep under ``max_rows_per_second``."""
    pause = float(options.get("pause_between_batches", 0) or 0)
    cap = float(options.get("max_rows_per_second", 0) or 0)
    if cap > 0 and rows:
        pause = max(pause, rows / cap - elapsed)
    return max(pause, 0.0)
