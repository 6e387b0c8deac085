"""The ``ctx`` given to python steps, and restoring captured values (shared with transforms)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from .. import audit
from . import capture
from .execution import StepExecution, StepFailed

logger = logging.getLogger("migrator.steps")


class StepContext:
    """What a python step can use.

    - ``connection`` / ``alias`` / ``vendor`` / ``quote(name)``: the target database;
    - ``params``: the deployment's parameters (``apply --param key=value``);
    - ``batches(table, key="id", size=None)``: key lists, each handled in its own
      transaction and checkpointed with it, resumed after a crash without redoing a batch
      (declare the step with ``transaction=False`` to use it);
    - ``capture(table, keys, columns, key="id")``: keep old values so rollback restores them;
    - ``progress(done, total=None)``, ``log(message)``, ``dry_run``.
    """

    def __init__(self, ex: StepExecution):
        self._ex = ex
        self.alias = ex.target.alias
        self.vendor = ex.target.vendor
        self.params = ex.params
        self.dry_run = ex.dry_run
        self._open: list[Iterator[list[Any]]] = []
        self._position: Any = None

    @property
    def connection(self) -> Any:
        return self._ex.target.connection

    def quote(self, name: str) -> str:
        return self._ex.target.quote(name)

    def log(self, message: str, **data: Any) -> None:
        ex = self._ex
        logger.info("%s%s", ex.where, message)
        if not ex.dry_run:
            audit.record(
                "step_log",
                f"{ex.where}{message}",
                actor=ex.deployment.requested_by,
                database=ex.target.alias,
                deployment=ex.deployment,
                run=ex.run,
                step_run=ex.step_run,
                **data,
            )

    def progress(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self._ex.progress.total = total
        self._ex.progress.done = done
        self._ex.progress.flush()

    def batches(self, table: str, key: str = "id", size: int | None = None) -> Iterator[list[Any]]:
        """Yield lists of keys of ``table`` in key order, one transaction per batch."""
        ex = self._ex
        if ex.spec.transactional and not ex.dry_run:
            raise StepFailed(
                f"{ex.where}ctx.batches() commits batch by batch: declare this step with transaction=False"
            )
        iterator = self._batches(table, key, size or _default_size())
        self._open.append(iterator)
        return iterator

    def _batches(self, table: str, key: str, size: int) -> Iterator[list[Any]]:
        ex, target, q = self._ex, self._ex.target, self._ex.target.quote
        target.ensure_cursor_table()
        position, batches, done = target.read_cursor(ex.run.pk, ex.order, "forward")
        ex.progress.start(None, done, batches)
        for after, upto in capture.batches(target, table, key, position, size):
            started = time.monotonic()
            condition, params = capture.key_range(target, key, after, upto)
            with target.connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {q(key)} FROM {q(table)} WHERE {condition} ORDER BY {q(key)}", params
                )
                keys = [row[0] for row in cursor.fetchall()]
            with target.atomic():
                yield keys  # the step's work for this batch runs here, inside the transaction
                batches, done = batches + 1, done + len(keys)
                target.write_cursor(ex.run.pk, ex.order, "forward", upto, batches, done)
            self._position = upto
            ex.progress.batch(len(keys), {"position": upto})
            ex.throttle(len(keys), started)

    def capture(self, table: str, keys: list[Any], columns: list[str], key: str = "id") -> int:
        """Keep the current values of ``columns`` for ``keys`` so that rollback restores them."""
        ex, target = self._ex, self._ex.target
        if not keys:
            return 0
        name = target.capture_table(ex.run.pk, ex.order, table)
        target.ensure_capture_table(name, table, key, columns)
        from .steps import _remember_capture

        _remember_capture(ex.step_run, name, table)
        placeholders = ", ".join(["%s"] * len(keys))
        condition = f"{target.quote(key)} IN ({placeholders})"
        return capture.capture_rows(target, name, table, key, columns, condition, list(keys))

    def cursor_state(self) -> dict[str, Any]:
        return {"position": self._position}

    def close(self) -> None:
        """Close open batch iterators: an unfinished batch's transaction is rolled back."""
        for iterator in self._open:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        self._open.clear()


def restore_captures(ex: StepExecution, tables: dict[str, str]) -> None:
    """Put back every captured value, batch by batch, checkpointed; then drop the captures."""
    target = ex.target
    target.ensure_cursor_table()
    position, batches, done = target.read_cursor(ex.run.pk, ex.order, "backward")
    total = sum(
        int(target.scalar(f"SELECT COUNT(*) FROM {target.quote(name)}") or 0) for name in tables
    )
    ex.progress.start(total, done, batches)
    size = _default_size()
    for capture_table, table in sorted(tables.items()):
        key, _ = capture.captured_columns(target, capture_table)
        for after, upto in capture.batches(target, capture_table, key, position, size):
            with target.atomic():
                rows = capture.restore_batch(target, capture_table, table, after, upto)
                batches, done = batches + 1, done + rows
                target.write_cursor(ex.run.pk, ex.order, "backward", upto, batches, done)
            ex.progress.batch(rows, {"position": upto})
        position = None
    if not ex.dry_run:
        for capture_table in tables:
            target.drop_table(capture_table)
    ex.progress.flush({"position": None, "restored": True}, finished=True)


def _default_size() -> int:
    from ..conf import migrator_settings

    return migrator_settings.BATCH_SIZE
