"""SQLite: statements split by SQLite's own tokenizer, a lock row, scratch copies for dry
runs, foreign keys switched off around a migration, backups in an attached file."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.db import OperationalError, transaction

from ..conf import migrator_settings
from .base import (
    Dialect,
    Joined,
    LineIndex,
    NotSupported,
    SessionKeeper,
    SettingsKeeper,
    Statement,
    statement_at,
)

ATTACHED = "migrator_backup"
#: Between two tries to take the write lock (see ``SQLiteDialect._begin_promptly``).
_RETRY_SECONDS = 0.001
_AUTOCOMMIT = re.compile(r"^\s*(VACUUM\b|PRAGMA\s+(foreign_keys|journal_mode)\b)", re.IGNORECASE)
_ALREADY = re.compile(r"already exists|duplicate column name", re.IGNORECASE)
_GONE = re.compile(r"no such (table|index|view|trigger|column)", re.IGNORECASE)


class ForeignKeyViolations(Exception):
    """Rows that break a foreign key after a migration that ran with foreign keys off."""


#: Files up to this size are read in one dbstat pass (tens of milliseconds) for the sizes
#: of all their tables, rather than by a query per table.
_ONE_PASS_BYTES = 64 * 1024 * 1024

#: Pages a dbstat pass reads in about the time a query for one B-tree costs (about 2
#: microseconds a page, 100 a query): over this many per B-tree asked for, one query
#: per B-tree.
_PAGES_PER_QUERY = 50

# dbstat's aggregate mode (SQLite 3.31+) sums each B-tree's pages itself: a third of the
# time of a row per page summed in SQL.
if sqlite3.sqlite_version_info >= (3, 31, 0):
    _BTREE_SIZES = "SELECT name, pgsize FROM dbstat WHERE schema = 'main' AND aggregate = 1"
    _BTREE_SIZE = "SELECT pgsize FROM dbstat WHERE schema = 'main' AND name = %s AND aggregate = 1"
else:  # pragma: no cover - older SQLite
    _BTREE_SIZES = "SELECT name, SUM(pgsize) FROM dbstat WHERE schema = 'main' GROUP BY name"
    _BTREE_SIZE = "SELECT SUM(pgsize) FROM dbstat WHERE schema = 'main' AND name = %s"


class _BookkeepingCursor:
    """The driver's own cursor for migrator's writes, taking ``%s`` placeholders: the
    statements are built once per model (no ``%`` of their own), so the conversion Django
    makes with a regular expression on every query is made once per statement here."""

    _converted: ClassVar[dict[str, str]] = {}

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    @classmethod
    def _sql(cls, query: str) -> str:
        sql = cls._converted.get(query)
        if sql is None:
            sql = cls._converted[query] = query.replace("%s", "?")
        return sql

    def execute(self, query: str, params: Any = ()) -> sqlite3.Cursor:
        return self._cursor.execute(self._sql(query), params or ())

    def executemany(self, query: str, rows: Any) -> sqlite3.Cursor:
        return self._cursor.executemany(self._sql(query), rows)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def __enter__(self) -> _BookkeepingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()


class SQLiteDialect(Dialect):
    vendor: ClassVar[str] = "sqlite"
    display_name: ClassVar[str] = "SQLite"
    dry_run_strategy: ClassVar[str] = "scratch"
    can_disable_foreign_keys: ClassVar[bool] = True
    groups_commits: ClassVar[bool] = True

    # -- statements -----------------------------------------------------------------

    @classmethod
    def split(cls, script: str) -> list[Statement]:
        """SQLite's tokenizer decides where each statement ends (``sqlite3.complete_statement``),
        so triggers' ``BEGIN ... END`` bodies, strings and comments never split."""
        statements: list[Statement] = []
        lines = LineIndex(script)
        start = 0
        position = script.find(";")
        while position >= 0:
            if sqlite3.complete_statement(script[start : position + 1]):
                statement = statement_at(script, start, position + 1, lines)
                if statement is not None:
                    statements.append(statement)
                start = position + 1
            position = script.find(";", position + 1)
        tail = statement_at(script, start, len(script), lines)
        if tail is not None:
            statements.append(tail)
        return statements

    def requires_autocommit(self, sql: str) -> bool:
        return bool(_AUTOCOMMIT.match(sql))

    def is_already_done(self, error: BaseException, sql: str) -> bool:
        text = sql.lstrip().upper()
        message = str(error)
        if text.startswith(("CREATE", "ALTER")) and _ALREADY.search(message):
            return True
        if text.startswith(("COMMIT", "END", "ROLLBACK")) and "no transaction is active" in message:
            # The script's own COMMIT ended its transaction before the worker stopped (its
            # statements' checkpoints committed with it); PostgreSQL only warns.
            return True
        return text.startswith("DROP") and bool(_GONE.search(message))

    # -- limits -----------------------------------------------------------------------

    @contextmanager
    def limits(self, *, timeout: float | None, lock_timeout: float | None) -> Iterator[None]:
        """SQLite has no statement timeout: a progress handler interrupts the statement
        once ``timeout`` seconds have passed (the error says "interrupted")."""
        if not timeout:
            yield
            return
        raw = self._raw()
        deadline = time.monotonic() + float(timeout)
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)

    def session_keeper(self, statements: tuple[Statement, ...]) -> SessionKeeper:
        """Keeps the pragmas a script assigns (``PRAGMA cache_size = 100``) to its own
        statements: the next migration and migrator's own see the connection's again
        (those that can be read back). ``foreign_keys`` is the engine's to switch
        (``-- Foreign-keys: off``)."""
        # Name -> the value its last assignment gives it.
        assigned = {
            match["name"].lower(): match["value"]
            for statement in statements
            if (match := _PRAGMA_SET.match(statement.sql)) and match["name"].isidentifier()
        }
        assigned.pop("foreign_keys", None)
        if not assigned:
            return SessionKeeper()
        return _PragmaKeeper(self, tuple(sorted(assigned)), assigned)

    def session_id(self) -> str:
        return f"{os.getpid()}"

    def transaction_marker(self) -> Any:
        # Django's BEGIN is sent when its atomic block starts; code that ended it leaves the
        # session outside any (its later statements commit one by one).
        raw = self.connection.connection
        return True if raw is not None and raw.in_transaction else None

    def transaction_intact(self) -> bool:
        # SQLite ends the transaction itself on some errors (a full disk, an I/O error).
        raw = self.connection.connection
        return super().transaction_intact() and raw is not None and raw.in_transaction

    def in_script_transaction(self) -> bool:
        raw = self.connection.connection
        return raw is not None and not self.connection.in_atomic_block and raw.in_transaction

    def bookkeeping_cursor(self) -> Any:
        return _BookkeepingCursor(self._raw().cursor())

    def keys_for_transaction(self, table: str, column: str, count: int) -> list[int] | None:
        """The next keys of an AUTOINCREMENT table, inside a transaction that holds the
        write lock (IMMEDIATE, see :meth:`atomic`): nobody else can insert before it
        commits, and inserting them moves the table's sequence past them."""
        if not self.connection.in_atomic_block:
            return None
        q = self.quote
        last = self.scalar(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX({q(column)}) FROM {q(table)}), 0))",
            [table],
        )
        return list(range(int(last) + 1, int(last) + 1 + count))

    def _raw(self) -> sqlite3.Connection:
        self.connection.ensure_connection()
        raw = self.connection.connection
        assert isinstance(raw, sqlite3.Connection)
        return raw

    @contextmanager
    def atomic(self, savepoint: bool = True) -> Iterator[None]:
        """Outermost transactions begin IMMEDIATE: they take the write lock first.

        A DEFERRED transaction that reads and then writes fails at once with "database is
        locked" when another connection writes meanwhile (SQLite cannot wait for the lock
        upgrade without risking a deadlock); one that starts with the write lock waits
        its turn (the busy timeout) instead.
        """
        connection: Any = self.connection  # Django's SQLite wrapper (transaction_mode)
        if connection.in_atomic_block:
            with Joined(connection) if not savepoint else transaction.atomic(using=self.alias):
                yield
            return
        connection.ensure_connection()
        previous = getattr(connection, "transaction_mode", None)
        connection.transaction_mode = "IMMEDIATE"
        try:
            with ExitStack() as stack:
                self._begin_promptly(
                    lambda: stack.enter_context(
                        transaction.atomic(using=self.alias, savepoint=savepoint)
                    )
                )
                connection.transaction_mode = previous
                yield
        finally:
            connection.transaction_mode = previous

    def _begin_promptly(self, begin: Callable[[], object]) -> None:
        """``begin()`` (which takes the write lock), tried again every millisecond until
        the connection's busy timeout while another connection holds the lock.

        SQLite's own busy handler waits longer and longer between its tries (up to 100
        ms): it would rarely find the lock free in the short moment a busy writer leaves
        between two transactions (a worker committing groups), and the console's pause
        or the heartbeat would wait until the deployment ended.
        """
        raw = self._raw()
        timeout_ms = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        deadline = time.monotonic() + timeout_ms / 1000
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    begin()
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                time.sleep(_RETRY_SECONDS)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {timeout_ms}")

    @contextmanager
    def serialized(self, key: int) -> Iterator[None]:
        """Take the database's write lock now (a write that changes nothing), so that two
        transactions that read, then write, queue up instead of failing on the upgrade."""
        self.execute("UPDATE migrator_targetlock SET pid = pid WHERE 1 = 0")
        yield

    # -- foreign keys ---------------------------------------------------------------

    @contextmanager
    def foreign_keys_off(self) -> Iterator[None]:
        """Foreign keys off for the block (the table-rebuild pattern needs it).

        ``PRAGMA foreign_keys`` is a no-op inside a transaction, so it is switched outside
        any; the block's own transaction must run ``check_foreign_keys()`` before it
        commits. Foreign keys are switched back on whatever happens.
        """
        if self.connection.in_atomic_block:
            raise NotSupported(
                "foreign keys cannot be switched off inside a transaction (SQLite ignores it)"
            )
        self.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            self.execute("PRAGMA foreign_keys = ON")

    def check_foreign_keys(self) -> None:
        """Raise :class:`ForeignKeyViolations` listing rows whose foreign keys dangle."""
        found = self.rows("PRAGMA foreign_key_check")
        if not found:
            return
        sample = "; ".join(
            f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _ in found[:10]
        )
        raise ForeignKeyViolations(
            f"{len(found)} row(s) violate foreign keys after the migration: {sample}"
        )

    # -- dry runs -------------------------------------------------------------------

    @contextmanager
    def scratch_copy(self) -> Iterator[str]:
        """A copy of the database file (SQLite's backup API) under a temporary alias."""
        folder = tempfile.mkdtemp(prefix="migrator-dry-")
        path = Path(folder) / "scratch.sqlite3"
        destination = sqlite3.connect(path)
        try:
            self._raw().backup(destination)
        finally:
            destination.close()
        name = f"{self.alias}__migrator_dry_{os.getpid()}_{id(path)}"
        try:
            with self.second_connection(name, NAME=str(path)) as alias:
                yield alias
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # -- backups ----------------------------------------------------------------------

    def _backup_file(self, backup_id: int) -> Path:
        folder = Path(migrator_settings.BACKUP_DIR)
        if not folder.is_absolute():
            folder = Path(getattr(settings, "BASE_DIR", ".")) / folder
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"backup-{backup_id}.sqlite3"

    @contextmanager
    def backup_space(self, backup_id: int) -> Iterator[str]:
        self.execute(f"ATTACH DATABASE %s AS {ATTACHED}", [str(self._backup_file(backup_id))])
        try:
            yield ATTACHED
        finally:
            self.execute(f"DETACH DATABASE {ATTACHED}")

    def backup_location(self, backup_id: int) -> str:
        return str(self._backup_file(backup_id))

    def drop_backup(self, backup_id: int, copies: list[str]) -> None:
        self._backup_file(backup_id).unlink(missing_ok=True)

    def table_exists(self, name: str) -> bool:
        """What ``name in table_names()`` answers (Django lists the main database's
        tables, not its views), for one name instead of a list of every table."""
        return (
            self.scalar(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s "
                "AND name != 'sqlite_sequence'",
                [name],
            )
            is not None
        )

    def free_disk_bytes(self) -> int | None:
        name = str(self.connection.settings_dict.get("NAME") or "")
        if not name or name == ":memory:" or name.startswith("file:"):
            return None
        return shutil.disk_usage(Path(name).resolve().parent).free

    def relation_size(self, qualified: str) -> int | None:
        schema, _, table = qualified.rpartition(".")
        try:
            return int(
                self.scalar(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = %s"
                    + (" AND schema = %s" if schema else ""),
                    [table.strip('"'), schema.strip('"')] if schema else [table.strip('"')],
                )
                or 0
            )
        except Exception:  # noqa: BLE001 - dbstat is an optional compile-time feature
            return None

    def relation_sizes(self, names: list[str]) -> dict[str, int] | None:
        """Bytes of the named tables or indexes of the main database (None without
        dbstat, which reads every page it reports on): one pass over the file when it is
        small or the B-trees asked for are many, else a query per B-tree (not the pages of
        others: migrator's own tables grow with every deployment)."""
        wanted = set(names)
        try:
            used = int(self.scalar("PRAGMA page_count") or 0) - int(
                self.scalar("PRAGMA freelist_count") or 0
            )
            page_size = int(self.scalar("PRAGMA page_size") or 4096)
            if used * page_size <= _ONE_PASS_BYTES or used <= _PAGES_PER_QUERY * len(names):
                found = self.rows(_BTREE_SIZES)
            else:
                found = [(name, self.scalar(_BTREE_SIZE, [name])) for name in names]
        except Exception:  # noqa: BLE001 - dbstat is an optional compile-time feature
            return None
        return {str(name): int(size or 0) for name, size in found if name in wanted}

    # -- schema ---------------------------------------------------------------------

    def capture_schema(self) -> dict[str, Any]:
        from .sqlite_schema import capture

        return capture(self)


#: ``PRAGMA name = value`` (or ``PRAGMA schema.name = value``): a setting of the connection.
_PRAGMA_SET = re.compile(
    r"^PRAGMA\s+(?:\w+\.)?(?P<name>\w+)\s*=\s*(?P<value>'[^']*'|\"[^\"]*\"|[^\s;]*)",
    re.IGNORECASE,
)
#: Pragmas that can be set but not read back, and their value on a new connection (Django
#: never sets them): what the script's connection goes back to.
_WRITE_ONLY = {"case_sensitive_like": 0}
_TRUE = {"1", "on", "yes", "true"}


class _PragmaKeeper(SettingsKeeper):
    """Pragmas read before the script and assigned back after it (names come from the
    script's own ``PRAGMA name = ...`` statements, checked as identifiers). One that
    cannot be read back is taken to be at its default before the script and at what the
    script's last assignment gave it after."""

    def __init__(self, dialect: Dialect, names: tuple[str, ...], assigned: dict[str, str]):
        self._assigned = assigned
        self._after_script = False
        super().__init__(dialect, names)

    def _read(self) -> tuple[Any, ...]:
        values: list[Any] = []
        for name in self._names:
            if name in _WRITE_ONLY:
                given = self._assigned.get(name, "").strip("'\"").lower()
                values.append(int(given in _TRUE) if self._after_script else _WRITE_ONLY[name])
                continue
            rows = self._dialect.rows(f"PRAGMA {name}")
            values.append(rows[0][0] if rows and len(rows[0]) == 1 else None)
        self._after_script = True
        return tuple(values)

    def after_failure(self) -> None:
        # A rollback leaves pragmas as the script set them (``query_only = ON`` would
        # refuse the failure's record).
        self.ours()

    def _write(self, values: tuple[Any, ...]) -> None:
        # A pragma that reads back as nothing has None: left as it is.
        for name, value in zip(self._names, values, strict=True):
            if isinstance(value, int):
                self._dialect.execute(f"PRAGMA {name} = {int(value)}")
            elif isinstance(value, str) and re.fullmatch(r"\w+", value):
                self._dialect.execute(f"PRAGMA {name} = '{value}'")
