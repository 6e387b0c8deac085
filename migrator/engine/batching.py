"""Keyset batches over a table, and putting captured old values back exactly.

Both are resumable from their checkpoint (:mod:`.checkpoints`): each batch commits with
the checkpoint that records it, and the last act of a restore (dropping the capture table)
commits with the checkpoint that says it finished.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import faults
from .errors import StepFailed
from .target import Target

if TYPE_CHECKING:
    from .execution import StepExecution

RESTORE_PREFIX = "restore:"


def ensure_capture(
    ex: StepExecution, table: str, key: str, columns: list[str], *, in_key_order: bool = False
) -> str:
    """The capture table of (this forward run, this step, ``table``, these ``columns``),
    created and registered if needed; call inside a transaction (it commits with the first
    capture). Each set of columns has its own table: a row's oldest value of each column
    is what a restore must put back."""
    capture, count = ex.checkpoints.capture_for(table, columns)
    if capture is None:
        number = count + 1
        capture = Target.capture_table(ex.run.pk, ex.order, table, number)
        if not ex.dialect.table_exists(capture):
            ex.dialect.create_capture_table(capture, table, key, columns, in_key_order=in_key_order)
        ex.checkpoints.register_capture(capture, table, columns, number)
    return capture


def forward_captures(ex: StepExecution) -> dict[str, str]:
    """``{capture table: table}`` the forward run of this step kept values in."""
    from .checkpoints import Checkpoints

    return Checkpoints(ex.target, ex.forward_run_id, ex.order, "forward").captures()


def keyset(
    ex: StepExecution, loop: str, table: str, key: str, size: int
) -> Iterator[tuple[list[Any], Any]]:
    """Yield ``(keys, upto)`` of the next batches of ``table`` after the loop's checkpoint.

    The caller does each batch's work and calls :func:`commit_batch` in one transaction.
    """
    checkpoint = ex.checkpoints.get(loop)
    if checkpoint.finished:
        return
    position = checkpoint.position
    while True:
        upto = ex.dialect.next_bound(table, key, position, size)
        if upto is None:
            with ex.target.atomic():
                current = ex.checkpoints.get(loop)
                ex.checkpoints.write(
                    loop,
                    position=position,
                    batches=current.batches,
                    done=current.done,
                    finished=True,
                )
            return
        yield ex.dialect.keys_between(table, key, position, upto), upto
        position = upto


def commit_batch(ex: StepExecution, loop: str, upto: Any, rows: int) -> None:
    """Record one batch in the loop's checkpoint; call inside the batch's transaction."""
    current = ex.checkpoints.get(loop)
    ex.checkpoints.write(
        loop,
        position=upto,
        batches=current.batches + 1,
        done=current.done + rows,
        finished=False,
    )


def restore_captures(ex: StepExecution, captures: dict[str, str], size: int | None = None) -> int:
    """Put back every captured value, batch by batch, then drop each capture table.

    A capture whose restore checkpoint says finished was restored and dropped before (a
    resumed undo); one that is gone without that record is an error, never a silent skip.
    """
    dialect = ex.dialect
    todo = []
    # Newest capture first: where two captured the same column of a row, the oldest value
    # (the first capture's) is written last.
    for capture, table in reversed(list(captures.items())):
        loop = RESTORE_PREFIX + capture
        if ex.checkpoints.get(loop).finished:
            continue
        if not dialect.table_exists(capture):
            raise StepFailed(f"{ex.where}the captured values of {table} ({capture}) are gone")
        todo.append((capture, table, loop))
    # Capture tables keep their rows until dropped: a table's count is its whole share.
    pending = {capture for capture, _, _ in todo}
    restored = sum(ex.checkpoints.get(RESTORE_PREFIX + c).done for c in captures)
    total = sum(
        dialect.count_rows(c) if c in pending else ex.checkpoints.get(RESTORE_PREFIX + c).done
        for c in captures
    )
    ex.progress.start(total, restored)
    for capture, table, loop in todo:
        _restore_one(ex, capture, table, loop, size or ex.batch_size)
    return ex.progress.done


def _restore_one(ex: StepExecution, capture: str, table: str, loop: str, size: int) -> None:
    """Restore one capture table in key ranges of ``table`` (walked on its primary key:
    a capture table's own index need not give an order), then drop it."""
    dialect = ex.dialect
    columns = dialect.columns_of(capture)
    key, kept = columns[0], columns[1:]
    dialect.prepare_capture(capture)
    checkpoint = ex.checkpoints.get(loop)
    position, batches, done = checkpoint.position, checkpoint.batches, checkpoint.done
    last = dialect.scalar(f"SELECT MAX({dialect.quote(key)}) FROM {dialect.quote(capture)}")
    finished = last is None or checkpoint.finished
    while not finished:
        started = time.monotonic()
        upto = dialect.next_bound(table, key, position, size)
        if upto is None or upto >= last:
            upto, finished = last, True
        with ex.batch_transaction():
            rows = dialect.restore_batch(
                capture=capture, table=table, key=key, columns=kept, after=position, upto=upto
            )
            batches, done, position = batches + 1, done + rows, upto
            ex.checkpoints.write(
                loop, position=position, batches=batches, done=done, finished=False
            )
        faults.point("restore_batch_committed")
        ex.progress.batch(rows)
        ex.throttle(rows, started)
    with ex.target.atomic():
        dialect.drop_table(capture)
        ex.checkpoints.write(loop, position=position, batches=batches, done=done, finished=True)
    faults.point("restore_dropped")
