"""The interface every database dialect implements, with the parts that are plain SQL.

Everything that differs between database backends lives behind :class:`Dialect` (as
Django keeps its differences behind ``connection.ops`` and ``connection.features``):
statement splitting, locks, timeouts, foreign-key switching, the target-side checkpoint
table, keyset batches with captured values, backup storage and schema capture. The rest
of migrator asks the dialect and never branches on ``connection.vendor``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlparse
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from sqlparse.engine import FilterStack

#: Target-side table of checkpoints and step ledger rows (see :mod:`migrator.engine.checkpoints`).
CHECKPOINT_TABLE = "migrator_checkpoint"
#: Prefix of migrator's own tables in a target; schema capture leaves them out.
OWN_PREFIX = "migrator_"


class NotSupported(Exception):
    """The database cannot do what was asked (the message says what to do instead)."""


@dataclass(frozen=True)
class Statement:
    """One statement of a script, and the 1-based line of the script it starts on."""

    sql: str
    line: int


@dataclass(frozen=True)
class Batch:
    """One committed keyset batch: the last key it covered and the rows it changed."""

    upto: Any
    rows: int


_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def first_code_offset(text: str) -> int:
    """Offset of the first character that is neither whitespace nor a comment."""
    match = _LEADING_NOISE.match(text)
    return match.end() if match else 0


def statement_at(script: str, start: int, end: int) -> Statement | None:
    """The statement in ``script[start:end]`` without leading comments or a final ``;``."""
    offset = start + first_code_offset(script[start:end])
    text = script[offset:end].rstrip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        return None
    return Statement(text, script.count("\n", 0, offset) + 1)


class Dialect:
    """Base class: generic SQL; subclasses override what their database does differently."""

    vendor: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    #: DDL inside a transaction is rolled back with it.
    transactional_ddl: ClassVar[bool] = True
    #: Server-side advisory locks exist (PostgreSQL); otherwise a lock row is the lock.
    advisory_locks: ClassVar[bool] = False
    #: How a dry run isolates its work: "transaction" (rolled back) or "scratch" (a copy).
    dry_run_strategy: ClassVar[str] = "transaction"
    #: Whether a migration can ask to run with foreign-key checks off.
    can_disable_foreign_keys: ClassVar[bool] = False

    def __init__(self, connection: BaseDatabaseWrapper):
        self.connection = connection

    # -- plumbing -------------------------------------------------------------------

    @property
    def alias(self) -> str:
        return str(self.connection.alias)

    def quote(self, name: str) -> str:
        """Quote an identifier with the connection's own quoting (``a.b`` part by part)."""
        return ".".join(self.connection.ops.quote_name(part) for part in name.split("."))

    def execute(self, sql: str, params: Any = None) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def atomic(self, savepoint: bool = True) -> Any:
        """A transaction (or a savepoint inside one) on this connection."""
        return transaction.atomic(using=self.alias, savepoint=savepoint)

    def table_names(self) -> list[str]:
        with self.connection.cursor() as cursor:
            return list(self.connection.introspection.table_names(cursor))

    def table_exists(self, name: str) -> bool:
        return name in self.table_names()

    def columns_of(self, table: str) -> list[str]:
        with self.connection.cursor() as cursor:
            description = self.connection.introspection.get_table_description(cursor, table)
        return [column.name for column in description]

    def drop_table(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.quote(name)}")

    # -- statements -----------------------------------------------------------------

    @classmethod
    def split(cls, script: str) -> list[Statement]:
        """Statements of ``script`` in order, each with the line it starts on (sqlparse's
        lexer: semicolons in strings, comments and dollar quotes do not split)."""
        statements: list[Statement] = []
        line = 1
        # The splitter without sqlparse's grouping pass: splitting needs tokens, not a tree.
        for parsed in FilterStack().run(script):
            tokens = list(parsed.flatten())
            code = [i for i, token in enumerate(tokens) if _is_code(token)]
            if code and tokens[code[-1]].match(sqlparse.tokens.Punctuation, ";"):
                code.pop()
            if code:
                first, last = code[0], code[-1]
                before = "".join(t.value for t in tokens[:first])
                statements.append(
                    Statement(
                        "".join(t.value for t in tokens[first : last + 1]),
                        line + before.count("\n"),
                    )
                )
            line += str(parsed).count("\n")
        return statements

    def requires_autocommit(self, sql: str) -> bool:
        """Whether the statement cannot run inside a transaction block."""
        return False

    def is_already_done(self, error: BaseException, sql: str) -> bool:
        """Whether ``error`` says an in-doubt statement had already taken effect."""
        return False

    # -- per-step limits ------------------------------------------------------------

    @contextmanager
    def limits(self, *, timeout: float | None, lock_timeout: float | None) -> Iterator[None]:
        """Statement and lock timeouts for the work inside the block (seconds)."""
        yield

    def session_id(self) -> str:
        """Identifies the database session, for telling who holds what."""
        return ""

    # -- locks ----------------------------------------------------------------------

    def try_advisory_lock(self, key: int) -> bool:
        raise NotSupported(f"{self.display_name} has no advisory locks")

    def advisory_unlock(self, key: int) -> None:
        raise NotSupported(f"{self.display_name} has no advisory locks")

    def advisory_lock_held(self, key: int) -> bool:
        """Whether any session of *this database* holds the advisory lock ``key``."""
        return False

    @contextmanager
    def serialized(self, key: int) -> Iterator[None]:
        """Inside a transaction: wait until no other transaction holds ``key``."""
        yield

    # -- foreign keys ---------------------------------------------------------------

    @contextmanager
    def foreign_keys_off(self) -> Iterator[None]:
        raise NotSupported(f"{self.display_name} cannot switch foreign keys off for one migration")
        yield  # pragma: no cover - makes this a generator

    # -- checkpoints and ledger (target-side) ---------------------------------------

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
        if not self.table_exists(CHECKPOINT_TABLE):
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
        if not run_ids or not self.table_exists(CHECKPOINT_TABLE):
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

    # -- dry runs -------------------------------------------------------------------

    @contextmanager
    def second_connection(self, name: str, **overrides: Any) -> Iterator[str]:
        """A new connection of this thread to the same database (or, with ``overrides``,
        another one), reachable as ``connections[name]`` until the block ends.

        Built directly rather than added to ``DATABASES``: it is this execution's own.
        """
        wrapper = type(self.connection)({**self.connection.settings_dict, **overrides}, alias=name)
        connections[name] = wrapper
        try:
            yield name
        finally:
            try:
                wrapper.close()
            finally:
                del connections[name]

    @contextmanager
    def scratch_copy(self) -> Iterator[str]:
        """A throwaway copy of this database as a connection alias (dry runs)."""
        raise NotSupported(f"{self.display_name} dry runs use a rolled-back transaction")
        yield ""  # pragma: no cover

    # -- backups ----------------------------------------------------------------------

    @contextmanager
    def backup_space(self, backup_id: int) -> Iterator[str]:
        """The qualifier under which a backup's table copies live, ready for use."""
        raise NotSupported(f"backups are not supported on {self.display_name}")
        yield ""  # pragma: no cover

    def backup_location(self, backup_id: int) -> str:
        raise NotSupported(f"backups are not supported on {self.display_name}")

    def drop_backup(self, backup_id: int, copies: list[str]) -> None:
        raise NotSupported(f"backups are not supported on {self.display_name}")

    def relation_size(self, qualified: str) -> int | None:
        """Bytes a table (or copy) takes on disk, when the database can tell."""
        return None

    # -- schema ---------------------------------------------------------------------

    def capture_schema(self) -> dict[str, Any]:
        """Everything the target's schema consists of, in one JSON-able dict."""
        raise NotImplementedError

    def user_tables(self) -> list[str]:
        """Tables (not views) of the target, migrator's own excluded, sorted."""
        with self.connection.cursor() as cursor:
            tables = self.connection.introspection.get_table_list(cursor)
        return sorted(t.name for t in tables if t.type == "t" and not t.name.startswith(OWN_PREFIX))

    def primary_key(self, table: str) -> list[str]:
        with self.connection.cursor() as cursor:
            found = self.connection.introspection.get_constraints(cursor, table)
        for info in found.values():
            if info.get("primary_key"):
                return [c for c in info.get("columns") or [] if c]
        return []


def _is_code(token: Any) -> bool:
    return not (token.is_whitespace or token.ttype in sqlparse.tokens.Comment)


def key_range(column: str, after: Any, upto: Any) -> tuple[str, list[Any]]:
    """``column > after AND column <= upto`` (no lower bound on the first batch)."""
    if after is None:
        return f"{column} <= %s", [upto]
    return f"{column} > %s AND {column} <= %s", [after, upto]


def escape_percent(sql: str) -> str:
    """User SQL placed into a parameterised query: '%' must reach the database as '%'."""
    return sql.replace("%", "%%")
