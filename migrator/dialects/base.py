"""The interface every database dialect implements, with the parts that are plain SQL.

Everything that differs between database backends lives behind :class:`Dialect` (as
Django keeps its differences behind ``connection.ops`` and ``connection.features``):
statement splitting, locks, timeouts, foreign-key switching, the target-side checkpoint
table, keyset batches with captured values, backup storage and schema capture. The rest
of migrator asks the dialect and never branches on ``connection.vendor``.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlparse
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from sqlparse.engine import FilterStack

from .batches import Batch, BatchOps, escape_percent, key_range

#: Prefix of migrator's own tables in a target; schema capture leaves them out.
OWN_PREFIX = "migrator_"


class NotSupported(Exception):
    """The database cannot do what was asked (the message says what to do instead)."""


@dataclass(frozen=True)
class Statement:
    """One statement of a script, and the 1-based line of the script it starts on."""

    sql: str
    line: int
    #: The rows of a ``COPY ... FROM STDIN`` that followed it in the script (PostgreSQL,
    #: as psql and Flyway read a dump), in COPY's own format; None for any other statement.
    copy_data: str | None = None


class FailedAt(Exception):
    """The statement at ``index`` of those given failed with ``error`` (the driver's, as
    Django raises it)."""

    def __init__(self, index: int, error: Exception):
        super().__init__(str(error))
        self.index = index
        self.error = error


_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def first_code_offset(text: str) -> int:
    """Offset of the first character that is neither whitespace nor a comment."""
    match = _LEADING_NOISE.match(text)
    return match.end() if match else 0


class LineIndex:
    """The line of any offset of one script, from one pass over it: counting the line
    breaks before each statement again would take time quadratic in the script's size
    (minutes for a dump of a hundred thousand statements)."""

    def __init__(self, script: str):
        self._breaks = [match.start() for match in _LINE_BREAK.finditer(script)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._breaks, offset) + 1


_LINE_BREAK = re.compile("\n")


def statement_at(
    script: str, start: int, end: int, lines: LineIndex | None = None
) -> Statement | None:
    """The statement in ``script[start:end]`` without leading comments or a final ``;``
    (``lines``: the script's, when many statements of it are taken)."""
    offset = start + first_code_offset(script[start:end])
    text = script[offset:end].rstrip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        return None
    line = lines.line_at(offset) if lines is not None else script.count("\n", 0, offset) + 1
    return Statement(text, line)


_SESSION_SETTING = re.compile(
    r"^(?:SET(?!\s+(?:TRANSACTION|CONSTRAINTS|LOCAL)\b)\s|RESET\s"
    r"|SELECT\s+(?:pg_catalog\.)?set_config\s*\([^;]*\)$|PRAGMA\s+\w+\s*=)",
    re.IGNORECASE,
)


class SentScript:
    """A script's statements sent by :meth:`Dialect.send_script`, their results not yet
    read. Until :meth:`end` nothing but migrator's bookkeeping writer may use the
    connection (what it sends follows them, in their transaction)."""

    def outcome(self) -> list[tuple[int, float]]:
        """What :meth:`Dialect.run_script_statements` returns, waiting for it; raises
        :class:`FailedAt` for the statement that failed. Read once."""
        raise NotImplementedError

    def end(self) -> None:
        """The results read (if they were not) and the connection usable again."""
        raise NotImplementedError


class SessionKeeper:
    """Keeps migrator's own session settings apart from those a migration's script
    changes, as Flyway restores a connection after each migration: :meth:`ours` after the
    script (before migrator's own writes, which name its tables unqualified), :meth:`theirs`
    before the script's next statement where it runs statement by statement. Nothing to
    keep by default (see the PostgreSQL dialect's)."""

    #: Whether it keeps anything (a script that sets nothing needs no keeping).
    keeps: ClassVar[bool] = False

    def ours(self) -> None:
        """Back to migrator's settings, remembering the script's."""

    def theirs(self) -> None:
        """The script's settings again."""

    def after_failure(self) -> None:
        """Back to migrator's settings after the script (or its check) failed in the
        step's transaction, where its rollback does not undo them."""


class SettingsKeeper(SessionKeeper):
    """A keeper of named settings: read before the script (migrator's), read again after
    it (the script's, when they differ) and written back in turn. A dialect says how one
    reads and writes them."""

    keeps: ClassVar[bool] = True

    def __init__(self, dialect: Dialect, names: tuple[str, ...]):
        self._dialect = dialect
        self._names = names
        self._ours = self._read()
        self._theirs: tuple[Any, ...] | None = None

    def _read(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def _write(self, values: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def ours(self) -> None:
        now = self._read()
        if now != self._ours:
            self._theirs = now
            self._write(self._ours)

    def theirs(self) -> None:
        if self._theirs is not None:
            self._write(self._theirs)


class Joined:
    """The transaction already open on ``connection``, joined: what Django's
    ``atomic(savepoint=False)`` is inside one (an error marks the whole transaction for
    rollback), without looking the connection up twice through Django's handler (an
    ``asgiref`` local: a few microseconds each, on every flush of every migration)."""

    def __init__(self, connection: BaseDatabaseWrapper):
        self._connection = connection

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is not None:
            self._connection.needs_rollback = True


class Dialect(BatchOps):
    """Base class: generic SQL; subclasses override what their database does differently."""

    vendor: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    #: DDL inside a transaction is rolled back with it.
    transactional_ddl: ClassVar[bool] = True
    #: Server-side advisory locks exist (PostgreSQL); otherwise a lock row is the lock.
    advisory_locks: ClassVar[bool] = False
    #: Whether :meth:`send_script` can send a script without waiting for it.
    sends_scripts: ClassVar[bool] = False
    #: How a dry run isolates its work: "transaction" (rolled back) or "scratch" (a copy).
    dry_run_strategy: ClassVar[str] = "transaction"
    #: Whether a migration can ask to run with foreign-key checks off.
    can_disable_foreign_keys: ClassVar[bool] = False
    #: Whether consecutive quick migrations may commit together (``engine.grouping``):
    #: where any write transaction locks the whole database and readers never wait.
    groups_commits: ClassVar[bool] = False

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

    def run_script_statements(
        self, cursor: Any, statements: Sequence[Statement]
    ) -> list[tuple[int, float]]:
        """Run a script's ``statements`` in order with ``cursor``: each one's rows (-1
        where none are reported) and seconds. :class:`FailedAt` says which failed (none
        after it ran)."""
        done = []
        for index, statement in enumerate(statements):
            started = time.perf_counter()
            try:
                rows = self.run_script_statement(cursor, statement)
            except Exception as exc:  # noqa: BLE001 - re-raised with its place
                raise FailedAt(index, exc) from exc
            done.append((rows, time.perf_counter() - started))
        return done

    def send_script(self, statements: Sequence[Statement]) -> SentScript | None:
        """Send a script's statements in the current transaction without waiting for them,
        where the driver can: the client does other work while the server runs them.
        None (nothing sent) by default; then :meth:`run_script_statements` runs them."""
        return None

    def run_script_statement(self, cursor: Any, statement: Statement) -> int:
        """Run one statement of a migration's script with ``cursor`` (a COPY with its
        data where the database takes one: see :class:`Statement`); the rows it affected
        (-1 where the database reports none, as a cursor's ``rowcount``)."""
        if statement.copy_data is not None:
            raise NotSupported(
                f"line {statement.line}: COPY ... FROM STDIN with data in the script is "
                f"PostgreSQL's; {self.display_name or self.vendor} cannot run it"
            )
        # No parameters: the SQL is the migration's own, '%' must reach the database.
        cursor.execute(statement.sql)
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
        """A transaction (or a savepoint inside one) on this connection; without
        ``savepoint``, inside an open transaction, that transaction (see :class:`Joined`)."""
        if not savepoint and self.connection.in_atomic_block:
            return Joined(self.connection)
        return transaction.atomic(using=self.alias, savepoint=savepoint)

    def commit_without_waiting(self, cursor: Any) -> None:
        """Let the current transaction's commit return before its changes reach the disk
        (where the database can; a later commit that waits writes them too)."""

    def commit_with(self, cursor: Any, chain: Any = None) -> bool:
        """Commit the current transaction with the bookkeeping ``cursor``'s writes (one
        round trip for both) where the driver allows; False: the caller commits it.
        ``chain`` (from :meth:`chain_script`): the next transaction's statements, sent
        after the COMMIT in the same round trip."""
        return False

    def begin_script(self, statements: Sequence[Statement]) -> tuple[Any, SentScript] | None:
        """Statements sent to begin a transaction of their own, not waited for: that
        transaction (a context manager, entered by the step that takes them; it commits
        or rolls back on leaving) and the script. None, having sent nothing, where the
        database cannot (see :attr:`sends_scripts`)."""
        return None

    def chain_script(self, statements: Sequence[Statement]) -> Any:
        """Statements for :meth:`commit_with` to begin the next transaction with, or
        None where it cannot."""
        return None

    def chained(self, chain: Any) -> tuple[Any, SentScript] | None:
        """What :meth:`begin_script` returns, for a chain :meth:`commit_with` sent."""
        return None

    def release_script(self) -> None:
        """After statements sent by :meth:`begin_script` or :meth:`chain_script` that no
        step took (their results read): their transaction rolled back."""

    def bookkeeping_cursor(self) -> Any:
        """A cursor for migrator's own many small writes (``%s`` placeholders), cheaper
        than Django's where the driver allows; on the connection's current transaction."""
        return self.connection.cursor()

    def reserve_keys(self, table: str, column: str, count: int) -> list[int] | None:
        """``count`` values of an auto-incremented key handed out ahead (so inserting with
        them needs no round trip for the key); None where the database cannot."""
        return None

    def keys_for_transaction(self, table: str, column: str, count: int) -> list[int] | None:
        """Like :meth:`reserve_keys`, for rows the current transaction inserts before it
        ends (where only that makes them safe to hand out)."""
        return self.reserve_keys(table, column, count)

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

    def sets_session(self, sql: str) -> bool:
        """Whether the statement only sets something for the rest of the session
        (``SET lock_timeout = '5s'``, ``SET search_path TO app``, a ``set_config`` call, a
        ``PRAGMA`` assignment): lost with the connection, so a script resumed on a new one
        runs it again before going on."""
        return bool(_SESSION_SETTING.match(sql))

    def is_already_done(self, error: BaseException, sql: str) -> bool:
        """Whether ``error`` says an in-doubt statement had already taken effect."""
        return False

    def transaction_marker(self) -> Any:
        """What identifies the transaction the session is in (beginning it if Django has
        yet to send its ``BEGIN``), None outside one: the same before and after code that
        ran in it, unless that code ended it. None where the database cannot tell."""
        return None

    def transaction_intact(self) -> bool:
        """Whether the transaction Django began is still whole: it can commit what was
        done in it (not marked for rollback, nor ended by the database)."""
        connection = self.connection
        return connection.in_atomic_block and not connection.needs_rollback

    def in_script_transaction(self) -> bool:
        """Whether the session is inside a transaction that Django did not begin: one a
        script run in autocommit began with its own ``BEGIN`` (and has not ended)."""
        return False

    def roll_back_script_transaction(self) -> bool:
        """Roll back the transaction a script began and did not end (or that failed), if
        there is one, so the session is usable again; whether there was (a connection
        already lost has lost it too)."""
        if not self.in_script_transaction():
            return False
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        except DatabaseError:
            if self.in_script_transaction():
                raise
        return True

    # -- per-step limits ------------------------------------------------------------

    @contextmanager
    def limits(self, *, timeout: float | None, lock_timeout: float | None) -> Iterator[None]:
        """Statement and lock timeouts for the work inside the block (seconds)."""
        yield

    def session_keeper(self, statements: tuple[Statement, ...]) -> SessionKeeper:
        """What keeps migrator's own session settings through a script that changes them
        (see :class:`SessionKeeper`); nothing to keep by default."""
        return SessionKeeper()

    def host_code_ran(self) -> None:
        """A migration's own Python code used the connection: whatever migrator keeps on
        the session (prepared statements) is checked before it is relied on again."""

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

    def table_size(self, table: str) -> tuple[int, int | None]:
        """Rows of ``table`` (see :meth:`count_rows`) and the bytes it takes, if known."""
        return self.count_rows(table), self.relation_size(self.quote(table))

    def free_disk_bytes(self) -> int | None:
        """Free bytes on the disk holding the database, where this process can see it."""
        return None

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


__all__ = [
    "Batch",
    "Dialect",
    "NotSupported",
    "Statement",
    "escape_percent",
    "key_range",
    "statement_at",
]
