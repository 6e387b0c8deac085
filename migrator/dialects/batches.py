"""SQL every dialect shares for keyset batches: the target-side checkpoint table, capture
tables of old values, one batch of a transform, one batch of a restore.

:class:`BatchOps` is a mixin of :class:`migrator.dialects.base.Dialect`; a dialect overrides
what its database does better (PostgreSQL: BRIN-indexed captures, planner estimates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

#: Target-side table of checkpoints and step ledger rows (see :mod:`migrator.engine.checkpoints`).
CHECKPOINT_TABLE = "migrator_checkpoint"


@dataclass(frozen=True)
class Batch:
    """One committed keyset batch: the last key it covered and the rows it changed."""

    upto: Any
    rows: int


class BatchOps:
    """Checkpoints, captures and batches, in SQL that PostgreSQL and SQLite both run."""

    connection: BaseDatabaseWrapper

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def execute(self, sql: str, params: Any = None) -> int:
        raise NotImplementedError

    def scalar(self, sql: str, params: Any = None) -> Any:
        raise NotImplementedError

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def table_exists(self, name: str) -> bool:
        raise NotImplementedError

    # -- checkpoints and ledger (target-side) ---------------------------------------

    #: The checkpoint table is known to exist (checked until found, once per dialect
    #: instance, which a Target keeps for one plan or execution: a catalog query per step
    #: would cost more than the step).
    _has_checkpoint_table = False

    def _checkpoint_table_exists(self) -> bool:
        if not self._has_checkpoint_table:
            self._has_checkpoint_table = self.table_exists(CHECKPOINT_TABLE)
        return self._has_checkpoint_table

    def ensure_checkpoint_table(self) -> None:
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {self.quote(CHECKPOINT_TABLE)} ("
            "run_id BIGINT NOT NULL, step_order INTEGER NOT NULL, direction VARCHAR(10) NOT NULL, "
            "loop VARCHAR(200) NOT NULL, position TEXT, batches INTEGER NOT NULL DEFAULT 0, "
            "done BIGINT NOT NULL DEFAULT 0, finished SMALLINT NOT NULL DEFAULT 0, "
            "PRIMARY KEY (run_id, step_order, direction, loop))"
        )

    def write_checkpoint(
        self,
        key: tuple[int, int, str, str],
        *,
        position: Any,
        batches: int,
        done: int,
        finished: bool,
    ) -> None:
        """Upsert one checkpoint row; call inside the transaction whose work it records."""
        self.execute(
            f"INSERT INTO {self.quote(CHECKPOINT_TABLE)} "
            "(run_id, step_order, direction, loop, position, batches, done, finished) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (run_id, step_order, direction, loop) DO UPDATE SET "
            "position = excluded.position, batches = excluded.batches, done = excluded.done, "
            "finished = excluded.finished",
            # default=str: UUID, date and decimal keys go back to the database as text,
            # which it casts to the key's own type when comparing.
            [*key, json.dumps(position, default=str), batches, done, int(finished)],
        )

    def read_checkpoints(
        self, run_id: int, step_order: int, direction: str
    ) -> dict[str, tuple[Any, int, int, bool]]:
        """``{loop: (position, batches, done, finished)}`` of one step execution."""
        if not self._checkpoint_table_exists():
            return {}
        found = self.rows(
            f"SELECT loop, position, batches, done, finished FROM {self.quote(CHECKPOINT_TABLE)} "
            "WHERE run_id = %s AND step_order = %s AND direction = %s",
            [run_id, step_order, direction],
        )
        return {
            loop: (json.loads(position) if position is not None else None, batches, done, bool(fin))
            for loop, position, batches, done, fin in found
        }

    def delete_checkpoints(self, run_ids: list[int]) -> int:
        if not run_ids or not self._checkpoint_table_exists():
            return 0
        marks = ", ".join(["%s"] * len(run_ids))
        return self.execute(
            f"DELETE FROM {self.quote(CHECKPOINT_TABLE)} WHERE run_id IN ({marks})", run_ids
        )

    # -- captured values --------------------------------------------------------------

    def create_capture_table(
        self, name: str, table: str, key: str, columns: list[str], *, in_key_order: bool = False
    ) -> None:
        """An empty table with ``table``'s key and ``columns`` (same types), indexed by key.

        ``in_key_order``: rows arrive in key order, each key once (a transform), so a
        cheaper index than a unique one can serve range reads where the dialect has one.
        """
        selected = ", ".join(self.quote(c) for c in [key, *columns])
        self.execute(
            f"CREATE TABLE {self.quote(name)} AS SELECT {selected} FROM {self.quote(table)} "
            "WHERE 1 = 0"
        )
        self.execute(self.capture_index_sql(name, key, in_key_order))

    def capture_index_sql(self, name: str, key: str, in_key_order: bool) -> str:
        return (
            f"CREATE UNIQUE INDEX {self.quote(name + '_key')} ON {self.quote(name)} "
            f"({self.quote(key)})"
        )

    def capture_rows(
        self, capture: str, table: str, key: str, columns: list[str], keys: list[Any]
    ) -> int:
        """Keep the current values of ``columns`` of rows ``keys``; the oldest capture wins."""
        selected = ", ".join(self.quote(c) for c in [key, *columns])
        marks = ", ".join(["%s"] * len(keys))
        return self.execute(
            f"INSERT INTO {self.quote(capture)} ({selected}) SELECT {selected} FROM "
            f"{self.quote(table)} WHERE {self.quote(key)} IN ({marks}) "
            f"ON CONFLICT ({self.quote(key)}) DO NOTHING",
            list(keys),
        )

    def next_bound(self, table: str, key: str, after: Any, size: int, where: str = "") -> Any:
        """The largest of the next ``size`` keys after ``after`` (keyset, never OFFSET)."""
        q = self.quote
        conditions = [f"{q(key)} > %s"] if after is not None else []
        if where:
            conditions.append(f"({where})")
        clause = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        params = [after, size] if after is not None else [size]
        return self.scalar(
            f"SELECT MAX({q(key)}) FROM (SELECT {q(key)} FROM {q(table)} {clause}"
            f"ORDER BY {q(key)} LIMIT %s) AS migrator_batch",
            params,
        )

    def count_rows(self, table: str, where: str = "", params: Any = None) -> int:
        """Rows of ``table`` matching ``where``: exact here; PostgreSQL estimates big tables
        (a progress bar's total need not cost a scan of a billion rows)."""
        clause = f" WHERE {where}" if where else ""
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.quote(table)}{clause}", params) or 0)

    def keys_between(self, table: str, key: str, after: Any, upto: Any) -> list[Any]:
        condition, params = key_range(self.quote(key), after, upto)
        return [
            row[0]
            for row in self.rows(
                f"SELECT {self.quote(key)} FROM {self.quote(table)} WHERE {condition} "
                f"ORDER BY {self.quote(key)}",
                params,
            )
        ]

    def transform_batch(
        self,
        *,
        table: str,
        key: str,
        assignments: dict[str, str],
        where: str,
        capture: str,
        after: Any,
        size: int,
    ) -> Batch | None:
        """Capture the old values of the next batch and update it; None when none is left.

        Three statements in the caller's transaction: the batch's upper key (an index-only
        walk of the next ``size`` keys), then the capture and the UPDATE, both bounded on
        the key range. (One statement joining the table to itself measured half as fast on
        PostgreSQL: the range-bounded UPDATE is what the planner does best.)
        """
        q = self.quote
        upto = self.next_bound(table, key, after, size)
        if upto is None:
            return None
        condition, params = key_range(q(key), after, upto)
        extra = f" AND ({where})" if where else ""
        selected = ", ".join(q(c) for c in [key, *assignments])
        self.execute(
            f"INSERT INTO {q(capture)} ({selected}) SELECT {selected} FROM {q(table)} "
            f"WHERE {condition}{extra}",
            params,
        )
        setter = ", ".join(f"{q(c)} = {e}" for c, e in assignments.items())
        rows = self.execute(f"UPDATE {q(table)} SET {setter} WHERE {condition}{extra}", params)
        return Batch(upto, rows)

    def restore_batch(
        self, *, capture: str, table: str, key: str, columns: list[str], after: Any, upto: Any
    ) -> int:
        """Put back captured values of one key range; both tables bounded on the key."""
        q = self.quote
        assignments = ", ".join(f"{q(c)} = migrator_old.{q(c)}" for c in columns)
        old_range, old_params = key_range(f"migrator_old.{q(key)}", after, upto)
        new_range, new_params = key_range(f"{q(table)}.{q(key)}", after, upto)
        return self.execute(
            f"UPDATE {q(table)} SET {assignments} FROM {q(capture)} AS migrator_old "
            f"WHERE {q(table)}.{q(key)} = migrator_old.{q(key)} AND {old_range} AND {new_range}",
            [*old_params, *new_params],
        )

    def analyze(self, table: str) -> None:
        """Refresh the planner's statistics of ``table`` (so plans do not guess)."""
        self.execute(f"ANALYZE {self.quote(table)}")

    def prepare_capture(self, name: str) -> None:
        """Before restoring from a capture table: statistics, and its index up to date."""
        self.analyze(name)


def key_range(column: str, after: Any, upto: Any) -> tuple[str, list[Any]]:
    """``column > after AND column <= upto`` (no lower bound on the first batch)."""
    if after is None:
        return f"{column} <= %s", [upto]
    return f"{column} > %s AND {column} <= %s", [after, upto]


def escape_percent(sql: str) -> str:
    """User SQL placed into a parameterised query: '%' must reach the database as '%'."""
    return sql.replace("%", "%%")
