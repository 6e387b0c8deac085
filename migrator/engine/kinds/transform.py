"""``transform``: a batched change of columns of one table, iterated by key, exactly reversible.

Each batch, in one transaction on the target: the batch's old values go into a capture
table, the UPDATE runs over the batch, the checkpoint (last key, batches, rows) is
written. A crash loses at most the batch in flight; rollback puts every captured value back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ...dialects.base import escape_percent
from .. import faults
from ..batching import ensure_capture, forward_captures, restore_captures
from .base import StepKind, WayBack

if TYPE_CHECKING:
    from ...catalog.spec import StepSpec
    from ...dialects import Dialect
    from ..execution import StepExecution

LOOP = "transform"


@dataclass(frozen=True)
class TransformSpec:
    table: str
    key: str
    set: dict[str, str]
    where: str = ""
    batch_size: int | None = None

    @classmethod
    def of(cls, step: StepSpec) -> TransformSpec:
        data = json.loads(step.forward)
        return cls(
            table=data["table"],
            key=data["key"],
            set=dict(data["set"]),
            where=data.get("where") or "",
            batch_size=data.get("batch_size"),
        )


class TransformKind(StepKind):
    name: ClassVar[str] = "transform"
    changes: ClassVar[str] = "data"
    can_capture: ClassVar[bool] = True

    def problems(self, step: StepSpec) -> list[str]:
        try:
            spec = TransformSpec.of(step)
        except (ValueError, KeyError, TypeError) as exc:
            return [f"transform spec is not valid: {exc}"]
        return [] if spec.set else ["a transform must set at least one column"]

    def transactional(self, step: StepSpec) -> bool:
        return False  # one transaction per batch

    def declared_way_back(self, step: StepSpec) -> WayBack:
        return WayBack.CAPTURED

    def way_back(self, step: StepSpec, captured: bool) -> WayBack:
        return WayBack.CAPTURED if captured else WayBack.NONE

    def missing_way_back(self, step: StepSpec) -> str:
        return "has no captured values to restore (gone, or it was not applied by migrator)"

    def describe(self, step: StepSpec, direction: str) -> dict[str, Any]:
        spec = TransformSpec.of(step)
        described: dict[str, Any] = {"spec": step.forward, "table": spec.table, "key": spec.key}
        if direction == "forward":
            described.update(set=spec.set, where=spec.where, batch_size=spec.batch_size)
        else:
            described["restores"] = sorted(spec.set)
        return described

    def touched_tables(self, step: StepSpec, dialect: Dialect) -> set[str] | None:
        return {TransformSpec.of(step).table}

    def only_changes_rows(self, step: StepSpec, dialect: Dialect) -> bool:
        return True

    reads_prepared = True

    def preflight(self, step: StepSpec, dialect: Dialect, prepared: set[str]) -> list[str]:
        """The table and its columns exist (unless an earlier migration makes them)."""
        spec = TransformSpec.of(step)
        if spec.table in prepared or "*" in prepared:
            return []
        if not dialect.table_exists(spec.table):
            return [f"table {spec.table!r} does not exist (and no earlier migration touches it)"]
        columns = set(dialect.columns_of(spec.table))
        missing = [c for c in [spec.key, *spec.set] if c not in columns]
        if missing:
            return [
                f"table {spec.table!r} has no column {', '.join(map(repr, missing))} "
                f"(it has {', '.join(sorted(columns))})"
            ]
        return []

    def forward(self, ex: StepExecution) -> None:
        spec = TransformSpec.of(ex.step)
        dialect = ex.dialect
        columns = list(spec.set)
        size = self._size(ex)
        where = escape_percent(spec.where)
        assignments = {column: escape_percent(sql) for column, sql in spec.set.items()}
        with ex.target.atomic():
            capture = ensure_capture(ex, spec.table, spec.key, columns, in_key_order=True)
        checkpoint = ex.checkpoints.get(LOOP)
        position, batches, done = checkpoint.position, checkpoint.batches, checkpoint.done
        if not checkpoint.finished:
            ex.progress.start(done + self._remaining(ex, spec, position, where), done, batches)
            finished = False
            while not finished:
                started = time.monotonic()
                with ex.batch_transaction():
                    batch = dialect.transform_batch(
                        table=spec.table,
                        key=spec.key,
                        assignments=assignments,
                        where=where,
                        capture=capture,
                        after=position,
                        size=size,
                    )
                    if batch is None:
                        finished = True
                    else:
                        batches, done, position = batches + 1, done + batch.rows, batch.upto
                    ex.checkpoints.write(
                        LOOP, position=position, batches=batches, done=done, finished=finished
                    )
                faults.point("batch_committed")
                if batch is not None:
                    ex.progress.batch(batch.rows)
                    ex.throttle(batch.rows, started)
        ex.progress.set(done)
        ex.progress.batches = batches
        if ex.step.validation:
            self.validate(ex, ex.step.validation, "validation")

    def backward(self, ex: StepExecution) -> None:
        captures = forward_captures(ex)
        if not captures:
            from ..errors import StepFailed

            raise StepFailed(f"{ex.where}no captured values to restore")
        restore_captures(ex, captures, self._size(ex))

    def undo(self, ex: StepExecution) -> None:
        # A transform stopped before its first capture changed nothing.
        restore_captures(ex, forward_captures(ex), self._size(ex))

    @staticmethod
    def _size(ex: StepExecution) -> int:
        """The transform's own batch size, both ways."""
        return int(TransformSpec.of(ex.step).batch_size or ex.batch_size)

    @staticmethod
    def _remaining(ex: StepExecution, spec: TransformSpec, position: Any, where: str) -> int:
        conditions, params = [], []
        if position is not None:
            conditions.append(f"{ex.dialect.quote(spec.key)} > %s")
            params.append(position)
        if where:
            conditions.append(f"({where})")
        return ex.dialect.count_rows(spec.table, " AND ".join(conditions), params)
