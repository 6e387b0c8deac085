"""The target database as the engine sees it: quoting, and migrator's tables inside it.

Cursors and captured old values live in the *target* database, so that a batch, its
captured values and its checkpoint commit in one transaction: a crash can lose a whole
batch, never half of one.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

CURSOR_TABLE = "migrator_cursor"


class Target:
    """One target database alias."""

    def __init__(self, alias: str):
        self.alias = alias

    @property
    def connection(self) -> BaseDatabaseWrapper:
        # Looked up on use: Django's connections are per thread.
        return connections[self.alias]

    @property
    def vendor(self) -> str:
        return self.connection.vendor

    def quote(self, name: str) -> str:
        """Quote an identifier (``schema.table`` quoted part by part)."""
        return ".".join(self.connection.ops.quote_name(part) for part in name.split("."))

    def atomic(self) -> Any:
        return transaction.atomic(using=self.alias)

    def execute(self, sql: str, params: Any = None) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def table_exists(self, name: str) -> bool:
        with self.connection.cursor() as cursor:
            return name in self.connection.introspection.table_names(cursor)

    # -- checkpoints -----------------------------------------------------------------

    def ensure_cursor_table(self) -> None:
        if self.table_exists(CURSOR_TABLE):
            return
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {self.quote(CURSOR_TABLE)} ("
            "run_id BIGINT NOT NULL, step_order INTEGER NOT NULL, direction VARCHAR(10) NOT NULL, "
            "position TEXT, batches INTEGER NOT NULL, done BIGINT NOT NULL, "
            "PRIMARY KEY (run_id, step_order, direction))"
        )

    def read_cursor(self, run_id: int, order: int, direction: str) -> tuple[Any, int, int]:
        """``(last key, batches, rows)`` committed so far; ``(None, 0, 0)`` at the start."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT position, batches, done FROM {self.quote(CURSOR_TABLE)} "
                "WHERE run_id = %s AND step_order = %s AND direction = %s",
                [run_id, order, direction],
            )
            row = cursor.fetchone()
        if row is None:
            return None, 0, 0
        return json.loads(row[0]) if row[0] is not None else None, int(row[1]), int(row[2])

    def write_cursor(
        self, run_id: int, order: int, direction: str, position: Any, batches: int, done: int
    ) -> None:
        """Upsert the checkpoint; call inside the batch's transaction."""
        self.execute(
            f"INSERT INTO {self.quote(CURSOR_TABLE)} "
            "(run_id, step_order, direction, position, batches, done) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (run_id, step_order, direction) DO UPDATE SET "
            "position = excluded.position, batches = excluded.batches, done = excluded.done",
            [run_id, order, direction, json.dumps(position), batches, done],
        )

    # -- captured old values ---------------------------------------------------------

    @staticmethod
    def capture_table(run_id: int, order: int, table: str) -> str:
        """Name of the table holding old values captured by one step of one forward run."""
        safe = "".join(c if c.isalnum() else "_" for c in table.lower())[:30]
        return f"migrator_cap_r{run_id}_s{order}_{safe}"

    def ensure_capture_table(self, name: str, table: str, key: str, columns: list[str]) -> None:
        """An empty copy of the key and captured columns, with the same types."""
        if self.table_exists(name):
            return
        selected = ", ".join(self.quote(c) for c in [key, *columns])
        self.execute(
            f"CREATE TABLE {self.quote(name)} AS SELECT {selected} FROM {self.quote(table)} WHERE 1 = 0"
        )
        self.execute(
            f"CREATE UNIQUE INDEX {self.quote(name + '_key')} ON {self.quote(name)} ({self.quote(key)})"
        )

    def drop_table(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.quote(name)}")
