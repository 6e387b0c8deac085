"""``python``: ``forward(ctx)`` and ``backward(ctx)`` callables; see :class:`StepContext`.

Without a backward callable, going back restores what ``ctx.capture()`` kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from .. import faults
from ..batching import commit_batch, ensure_capture, forward_captures, keyset, restore_captures
from ..errors import StepFailed
from .base import StepKind, WayBack

if TYPE_CHECKING:
    from ...catalog.spec import StepSpec
    from ..execution import StepExecution

logger = logging.getLogger("migrator.steps")


class StepContext:
    """What a python step is given.

    - ``connection`` / ``alias`` / ``vendor`` / ``quote(name)``: the target database;
    - ``params``: the deployment's parameters (``apply --param key=value``);
    - ``batches(table, key="id", size=None)``: key lists, each handled in its own
      transaction and checkpointed with it, resumed after a crash without redoing a batch
      (declare the step with ``transaction=False`` to use it). Each call is its own loop
      with its own checkpoint, so a step may iterate several tables one after the other;
    - ``capture(table, keys, columns, key="id")``: keep old values so rollback restores
      them (the first capture of a row wins);
    - ``progress(done, total=None)``, ``log(message, **data)``, ``dry_run``.
    """

    def __init__(self, ex: StepExecution):
        self._ex = ex
        self.alias = ex.target.alias
        self.vendor = ex.dialect.vendor
        self.params = ex.params
        self.dry_run = ex.dry_run
        self._loops = 0
        self._open: list[Iterator[list[Any]]] = []

    @property
    def connection(self) -> Any:
        return self._ex.target.connection

    def quote(self, name: str) -> str:
        return self._ex.dialect.quote(name)

    def log(self, message: str, **data: Any) -> None:
        ex = self._ex
        logger.info("%s%s", ex.where, message)
        if ex.journal is not None:
            ex.journal.event(
                "step_log", f"{ex.where}{message}", run=ex.run, step_run=ex.step_run, **data
            )

    def progress(self, done: int, total: int | None = None) -> None:
        self._ex.progress.set(done, total)

    def batches(self, table: str, key: str = "id", size: int | None = None) -> Iterator[list[Any]]:
        """Yield lists of keys of ``table`` in key order, one transaction per batch."""
        ex = self._ex
        if PythonKind().transactional(ex.step) and not ex.dry_run:
            raise StepFailed(
                f"{ex.where}ctx.batches() commits batch by batch: declare this step with "
                "transaction=False"
            )
        self._loops += 1
        iterator = self._batches(
            f"batches:{self._loops}:{table}", table, key, size or ex.batch_size
        )
        self._open.append(iterator)
        return iterator

    def _batches(self, loop: str, table: str, key: str, size: int) -> Iterator[list[Any]]:
        ex = self._ex
        checkpoint = ex.checkpoints.get(loop)
        # Counts add up over the step's loops (and what a resumed loop had committed).
        ex.progress.set(ex.progress.done + checkpoint.done)
        ex.progress.batches += checkpoint.batches
        for keys, upto in keyset(ex, loop, table, key, size):
            started = time.monotonic()
            with ex.batch_transaction():
                yield keys  # the step's work for this batch runs here, inside the transaction
                commit_batch(ex, loop, upto, len(keys))
            faults.point("batch_committed")
            ex.progress.batch(len(keys))
            ex.throttle(len(keys), started)

    def capture(self, table: str, keys: list[Any], columns: list[str], key: str = "id") -> int:
        """Keep the current values of ``columns`` for ``keys`` so that rollback restores them."""
        ex = self._ex
        if not keys:
            return 0
        with ex.target.atomic():
            capture = ensure_capture(ex, table, key, columns)
            return ex.dialect.capture_rows(capture, table, key, columns, list(keys))

    def close(self) -> None:
        """Close open batch iterators: an unfinished batch's transaction is rolled back."""
        for iterator in self._open:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        self._open.clear()


def _call(ex: StepExecution, function: Any) -> None:
    ctx = StepContext(ex)
    # In the step's transaction, the code must not end it: its record commits with it.
    marker = ex.dialect.transaction_marker() if ex.dialect.connection.in_atomic_block else None
    try:
        function(ctx)
    except BaseException:
        # Outside the step's transaction, one the code began ends here, undone: the
        # failure's record is written next, on this session.
        ex.dialect.roll_back_script_transaction()
        raise
    finally:
        ctx.close()
        ex.dialect.host_code_ran()
    if ex.dialect.roll_back_script_transaction():
        raise StepFailed(
            f"{ex.where}its code began a transaction it did not end (no COMMIT): it was "
            "rolled back, with what the code did in it; end it with COMMIT"
        )
    if marker is not None and ex.dialect.transaction_marker() != marker:
        raise StepFailed(
            f"{ex.where}its code ended the step's transaction itself (a COMMIT or ROLLBACK of "
            "its own), so what it did before that is not the step's to record or undo: give "
            "the step transaction=False to manage transactions in code"
        )


class PythonKind(StepKind):
    name: ClassVar[str] = "python"
    changes: ClassVar[str] = "data"
    can_capture: ClassVar[bool] = True

    def problems(self, step: StepSpec) -> list[str]:
        problems = []
        if not callable(step.forward_callable):
            problems.append(f"forward {step.forward!r} is not callable")
        if step.backward_callable is not None and not callable(step.backward_callable):
            problems.append(f"backward {step.backward!r} is not callable")
        return problems

    def declared_way_back(self, step: StepSpec) -> WayBack:
        # Without a backward callable, a python step promises to ctx.capture() what it
        # changes (docs/engine.md); whether it did is checked once it ran (way_back).
        return WayBack.CALLABLE if step.backward_callable is not None else WayBack.CAPTURED

    def way_back(self, step: StepSpec, captured: bool) -> WayBack:
        if step.backward_callable is not None:
            return WayBack.CALLABLE
        return WayBack.CAPTURED if captured else WayBack.NONE

    def missing_way_back(self, step: StepSpec) -> str:
        return "has no backward callable and its captured values are gone (or it captured none)"

    def describe(self, step: StepSpec, direction: str) -> dict[str, Any]:
        if direction == "forward":
            return {"callable": step.forward}
        return {"callable": step.backward or "restore captured values"}

    def forward(self, ex: StepExecution) -> None:
        _call(ex, ex.step.forward_callable)
        if ex.step.validation:
            self.validate(ex, ex.step.validation, "validation")

    def backward(self, ex: StepExecution) -> None:
        if ex.step.backward_callable is not None:
            _call(ex, ex.step.backward_callable)
            return
        captures = forward_captures(ex)
        if not captures:
            raise StepFailed(f"{ex.where}no backward callable and nothing captured to restore")
        restore_captures(ex, captures)

    def undo(self, ex: StepExecution) -> None:
        if not ex.partial:
            self.backward(ex)
            return
        # Stopped partway: put back what its committed batches captured. Work it did
        # without capturing cannot be known, so a backward callable is the only other way.
        captures = forward_captures(ex)
        if captures:
            restore_captures(ex, captures)
        elif ex.step.backward_callable is not None:
            _call(ex, ex.step.backward_callable)
