"""Progress that commits with the work it describes, in the target database.

One row per (run, step, direction, loop) in ``migrator_checkpoint``:

- ``loop = ""``: the step execution itself; ``finished`` once its work committed (the
  step's ledger, written in the step's own transaction);
- ``"transform"``, ``"batches:<n>:<table>"``, ``"restore:<capture table>"``: a keyset
  loop's last key, batches and rows, written in each batch's transaction;
- ``"stmt:<n>"``: a statement of a non-transactional step, started then finished;
- ``"capture:<capture table>"``: which table a capture table keeps old values of.

Because these rows commit with the work, a resumed step knows exactly what committed,
whatever moment the previous worker died at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .target import Target

STEP = ""
CAPTURE_PREFIX = "capture:"


@dataclass(frozen=True)
class Checkpoint:
    position: Any = None
    batches: int = 0
    done: int = 0
    finished: bool = False
    exists: bool = False


class Checkpoints:
    """The checkpoints of one step execution: ``(run, step order, direction)``."""

    def __init__(
        self, target: Target, run_id: int, order: int, direction: str, *, fresh: bool = False
    ):
        """``fresh``: no earlier attempt can have written any (nothing to read)."""
        self.target = target
        self.key = (run_id, order, direction)
        self._rows: dict[str, Checkpoint] | None = {} if fresh else None

    def _load(self) -> dict[str, Checkpoint]:
        if self._rows is None:
            found = self.target.dialect.read_checkpoints(*self.key)
            self._rows = {
                loop: Checkpoint(position, batches, done, finished, True)
                for loop, (position, batches, done, finished) in found.items()
            }
        return self._rows

    def get(self, loop: str) -> Checkpoint:
        return self._load().get(loop, Checkpoint())

    def write(
        self, loop: str, *, position: Any = None, batches: int = 0, done: int = 0, finished: bool
    ) -> None:
        """Record a loop's progress; call inside the transaction of the work it records."""
        self.target.dialect.write_checkpoint(
            (*self.key, loop), position=position, batches=batches, done=done, finished=finished
        )
        self._load()[loop] = Checkpoint(position, batches, done, finished, True)

    def forget(self) -> None:
        """Re-read on next use (after a transaction that wrote some was rolled back)."""
        self._rows = None

    @property
    def step_finished(self) -> bool:
        return self.get(STEP).finished

    def finish_step(self, rows: int) -> None:
        self.write(STEP, done=rows, finished=True)

    def captures(self) -> dict[str, str]:
        """``{capture table: table}`` registered by this step execution, oldest first."""
        found = sorted(
            (row.batches, loop[len(CAPTURE_PREFIX) :], row.position)
            for loop, row in self._load().items()
            if loop.startswith(CAPTURE_PREFIX)
        )
        return {name: _table_of(position) for _, name, position in found}

    def capture_for(self, table: str, columns: list[str]) -> tuple[str | None, int]:
        """The registered capture of ``table``'s ``columns`` (None if there is none), and
        how many captures the step registered."""
        wanted = sorted(columns)
        registered = [
            (loop[len(CAPTURE_PREFIX) :], row.position)
            for loop, row in self._load().items()
            if loop.startswith(CAPTURE_PREFIX)
        ]
        for name, position in registered:
            if position == {"table": table, "columns": wanted}:
                return name, len(registered)
        return None, len(registered)

    def register_capture(self, capture: str, table: str, columns: list[str], number: int) -> None:
        self.write(
            CAPTURE_PREFIX + capture,
            position={"table": table, "columns": sorted(columns)},
            batches=number,
            finished=True,
        )


def _table_of(position: Any) -> str:
    return str(position["table"]) if isinstance(position, dict) else str(position)


def ensure_table(target: Target) -> None:
    target.dialect.ensure_checkpoint_table()
