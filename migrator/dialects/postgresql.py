"""PostgreSQL: advisory locks, transactional DDL, SET LOCAL timeouts, a backup schema."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from django.db import DatabaseError

from ..conf import migrator_settings
from . import postgresql_schema
from .base import (
    Dialect,
    FailedAt,
    LineIndex,
    SentScript,
    SessionKeeper,
    SettingsKeeper,
    Statement,
    statement_at,
)

#: Statements PostgreSQL refuses inside a transaction block (the list Flyway uses, plus
#: REINDEX ... CONCURRENTLY and DETACH PARTITION ... CONCURRENTLY), on normalised text.
_AUTOCOMMIT = re.compile(
    r"^(?:"
    r"(?:CREATE|DROP) (?:DATABASE|TABLESPACE|SUBSCRIPTION)\b"
    r"|ALTER SYSTEM\b"
    r"|(?:CREATE|DROP)(?: UNIQUE)? INDEX CONCURRENTLY\b"
    r"|REINDEX(?: \(.*?\))?(?: VERBOSE)? (?:SCHEMA|DATABASE|SYSTEM)\b"
    r"|REINDEX\b.*\bCONCURRENTLY\b"
    r"|VACUUM\b"
    r"|DISCARD ALL\b"
    r"|CLUSTER$"
    r"|ALTER TABLE .* DETACH PARTITION .* CONCURRENTLY\b"
    r")",
    re.IGNORECASE | re.DOTALL,
)
_NOT_CODE = re.compile(r"--[^\n]*|/\*.*?\*/|[\s;]", re.DOTALL)

#: Text other than a ``;`` that may be in a COPY statement: a quoted delimiter, null
#: string or column name may hold one.
_COPY_TEXT = r"(?:[^;'\"]|'[^']*'|\"[^\"]*\")"
#: A ``COPY ... FROM STDIN`` statement that ends its line (as pg_dump writes them): the
#: lines after it are its data, up to a line ``\.`` (psql's rule, which Flyway follows).
_COPY_FROM_STDIN = re.compile(
    rf"^[ \t]*(?P<statement>COPY\b{_COPY_TEXT}*?\bFROM\s+STDIN\b{_COPY_TEXT}*;)"
    r"[ \t]*(?:--[^\n]*)?\r?(?:\n|\Z)",
    re.IGNORECASE | re.MULTILINE,
)
_END_OF_COPY_DATA = re.compile(r"^\\\.[ \t]*\r?$\n?", re.MULTILINE)


def _copy_blocks(script: str) -> Iterator[tuple[int, int, int, int, int]]:
    """Each ``COPY ... FROM STDIN`` statement of ``script`` followed by its data: where
    the statement starts and ends, where its data starts and ends, and where the script
    goes on after the data's ``\\.`` line (psql's rule: without one, the data runs to the
    end of the script, and COPY reports what it cannot read)."""
    from pglast import parser as pg_parser

    position = search_from = 0
    while match := _COPY_FROM_STDIN.search(script, search_from):
        start = match.start("statement")
        if not _statement_starts_at(script[position:start], pg_parser):
            search_from = match.end()  # in a string, a comment or another statement
            continue
        data_start = match.end()
        end = _END_OF_COPY_DATA.search(script, data_start)
        data_end, resume = (end.start(), end.end()) if end else (len(script), len(script))
        yield start, match.end("statement"), data_start, data_end, resume
        position = search_from = resume


def _statement_starts_at(before: str, pg_parser: Any) -> bool:
    """Whether a statement can start right after ``before``: no string, comment or
    statement is left open in it."""
    try:
        slices = pg_parser.split(before, with_parser=False, only_slices=True)
    except pg_parser.ParseError:
        return False
    if not slices:
        return True
    # The scanner's last statement ends before its ";": one must follow it.
    return ";" in _COMMENTS.sub("", before[slices[-1].stop :])


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _covers(script: str, slices: Any) -> bool:
    """Whether ``slices`` hold every statement of ``script`` (only comments, blanks and
    semicolons between and around them)."""
    position = 0
    for piece in slices:
        if _NOT_CODE.sub("", script[position : piece.start]):
            return False
        position = piece.stop
    return not _NOT_CODE.sub("", script[position:])


#: SQLSTATEs meaning "it is already there" / "it is already gone".
_DUPLICATE = {"42P07", "42710", "42701", "42P06", "42P04", "42723"}
_UNDEFINED = {"42P01", "42704", "42703", "3F000", "42883"}


def normalized(sql: str) -> str:
    """Upper-cased, single-spaced text of a statement, for prefix matching."""
    return " ".join(sql.split()).upper()


def sqlstate(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        state = getattr(cause, "sqlstate", None)
        if state:
            return str(state)
        cause = cause.__cause__
    return ""


#: Statements that deallocate the session's prepared statements (anywhere in one: a
#: function body or a statement after a comment counts too, which only costs a re-prepare).
_DROPS_PREPARED = re.compile(r"\b(?:DEALLOCATE|DISCARD\s+ALL)\b", re.IGNORECASE)

#: A statement that may change a session setting migrator's own queries depend on.
_SESSION_SETTING = re.compile(r"search_path|\bROLE\b", re.I)
#: Settings a script changes for the session: ``SET [SESSION] name ...``, ``RESET name``,
#: ``set_config('name', ...)`` (``SET LOCAL`` ends with the transaction by itself).
_SET = re.compile(
    r"^SET\s+(?:SESSION\s+)?"
    r"(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b|SESSION\s+AUTHORIZATION\b|CHARACTERISTICS\b)"
    r"(?P<name>TIME\s+ZONE|[A-Za-z_][\w.]*)",
    re.IGNORECASE,
)
_RESET = re.compile(r"^RESET\s+(?P<name>[A-Za-z_][\w.]*)", re.IGNORECASE)
_SET_CONFIG = re.compile(r"\bset_config\s*\(\s*'(?P<name>[^']+)'", re.IGNORECASE)
_ALIASES = {"time zone": "timezone", "schema": "search_path", "names": "client_encoding"}
#: ``SET SESSION CHARACTERISTICS AS TRANSACTION ...``: the defaults of later transactions
#: (``READ ONLY`` would make migrator's own writes after the script fail).
_CHARACTERISTICS = re.compile(r"^SET\s+SESSION\s+CHARACTERISTICS\b", re.IGNORECASE)
_TRANSACTION_DEFAULTS = (
    "default_transaction_deferrable",
    "default_transaction_isolation",
    "default_transaction_read_only",
)
#: ``SET SESSION AUTHORIZATION`` (a pg_dump made with ``--use-set-session-authorization``):
#: migrator's own writes after it would run as that user. Put back first (it resets the
#: role too).
_AUTHORIZATION = re.compile(
    r"^(?:SET\s+(?:SESSION\s+)?|RESET\s+)SESSION\s+AUTHORIZATION\b", re.IGNORECASE
)


@lru_cache(maxsize=1024)
def _session_effects(statements: tuple[Statement, ...]) -> tuple[bool, tuple[str, ...]]:
    """Whether ``statements`` may drop prepared statements, and the session settings they
    may change: read once per script (scripts repeat across runs)."""
    drops = any(_DROPS_PREPARED.search(s.sql) for s in statements)
    return drops, _settings_changed(statements)


def _settings_changed(statements: tuple[Statement, ...]) -> tuple[str, ...]:
    """The session settings ``statements`` may change (search_path and role whenever
    they are named at all: a function body may set them too)."""
    names: set[str] = set()
    for statement in statements:
        sql = statement.sql
        if _SESSION_SETTING.search(sql):
            names.update(("search_path", "role"))
        for pattern in (_SET, _RESET):
            match = pattern.match(sql)
            if match:
                name = " ".join(match["name"].lower().split())
                names.add(_ALIASES.get(name, name))
        names.update(m["name"].lower() for m in _SET_CONFIG.finditer(sql))
        if _CHARACTERISTICS.match(sql):
            names.update(_TRANSACTION_DEFAULTS)
        if _AUTHORIZATION.match(sql):
            names.add("session_authorization")
    names.discard("all")
    return tuple(sorted(names, key=lambda name: (name != "session_authorization", name)))


@lru_cache(maxsize=1024)
def _all_pipelinable(statements: tuple[Statement, ...]) -> bool:
    """Whether every statement can go in a pipeline (once per script)."""
    from .postgresql_cursor import pipelinable

    return all(s.copy_data is None and pipelinable(s.sql) for s in statements)


class PostgreSQLDialect(Dialect):
    vendor: ClassVar[str] = "postgresql"
    display_name: ClassVar[str] = "PostgreSQL"
    advisory_locks: ClassVar[bool] = True
    sends_scripts: ClassVar[bool] = True

    # -- statements -----------------------------------------------------------------

    def bookkeeping_cursor(self) -> Any:
        """A writer below psycopg's cursor (see :mod:`.postgresql_cursor`): statements
        sent as they are given, their results read in one go at the end, and prepared
        once per connection unless
        ``MIGRATOR["PREPARED_STATEMENTS"]`` is off, e.g. behind a pooler that cannot keep
        them (the target lock needs a session anyway)."""
        from .postgresql_cursor import Writer

        self.connection.ensure_connection()
        return Writer(self.connection.connection, prepare=migrator_settings.PREPARED_STATEMENTS)

    def table_exists(self, name: str) -> bool:
        """What ``name in table_names()`` answers (a table the search path shows, as
        Django lists them: partitioned and foreign tables too, not views or partitions),
        from the catalog's index on the name instead of a list of every table: a rollback
        asks once per step."""
        return bool(
            self.scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = %s AND c.relkind IN ('f', 'p', 'r') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'pg_toast') "
                "AND pg_catalog.pg_table_is_visible(c.oid))",
                [name],
            )
        )

    def reserve_keys(self, table: str, column: str, count: int) -> list[int] | None:
        sequence = self.scalar("SELECT pg_get_serial_sequence(%s, %s)", [self.quote(table), column])
        if sequence is None:
            return None
        return [
            int(key)
            for (key,) in self.rows(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count]
            )
        ]

    @classmethod
    def split(cls, script: str) -> list[Statement]:
        """PostgreSQL's own parser splits (dollar quotes, BEGIN ATOMIC bodies, nested
        comments); a script it cannot parse is split by its scanner alone, so that the
        server reports the syntax error of the statement at fault. A ``COPY ... FROM
        STDIN`` takes the lines after it, up to ``\\.``, as its data (a pg_dump)."""
        if "stdin" not in script.lower():
            return cls._split_plain(script)
        statements: list[Statement] = []
        lines = LineIndex(script)
        position = 0
        for start, end, data_start, data_end, resume in _copy_blocks(script):
            statements.extend(cls._split_sql(script[position:start], lines.line_at(position)))
            statement = script[start:end].removesuffix(";").rstrip()
            statements.append(
                Statement(statement, lines.line_at(start), script[data_start:data_end])
            )
            position = resume
        statements.extend(cls._split_sql(script[position:], lines.line_at(position)))
        return statements

    @classmethod
    def _split_sql(cls, text: str, first_line: int) -> list[Statement]:
        """The statements of ``text``, which starts on the script's ``first_line`` (their
        lines are the script's)."""
        statements = cls._split_plain(text)
        if first_line == 1:
            return statements
        shift = first_line - 1
        return [Statement(s.sql, s.line + shift, s.copy_data) for s in statements]

    @classmethod
    def _split_plain(cls, script: str) -> list[Statement]:
        # Imported here: every management command of a host project loads the dialects
        # (through the admin), and the parser costs 20 ms to import.
        from pglast import parser as pg_parser

        try:
            slices = pg_parser.split(script, with_parser=True, only_slices=True)
        except pg_parser.ParseError:
            try:
                slices = pg_parser.split(script, with_parser=False, only_slices=True)
            except pg_parser.ParseError:
                return super().split(script)
            # The scanner silently leaves out what does not start like a statement (a typo
            # such as "SELEC 1"): nothing may be skipped, so that the server reports it.
            if not _covers(script, slices):
                return super().split(script)
        statements = []
        lines = LineIndex(script)
        for piece in slices:
            statement = statement_at(script, piece.start, piece.stop, lines)
            if statement is not None:
                statements.append(statement)
        return statements

    def requires_autocommit(self, sql: str) -> bool:
        return bool(_AUTOCOMMIT.match(normalized(sql)))

    def run_script_statement(self, cursor: Any, statement: Statement) -> int:
        if statement.copy_data is None:
            return super().run_script_statement(cursor, statement)
        # psycopg's COPY, below Django's cursor: its errors as Django's, like execute's.
        with self.connection.wrap_database_errors, cursor.cursor.copy(statement.sql) as copy:
            copy.write(statement.copy_data)
        return int(cursor.rowcount)

    def run_script_statements(
        self, cursor: Any, statements: Sequence[Statement]
    ) -> list[tuple[int, float]]:
        """Inside a transaction, each stretch of plain statements goes to the server in one
        round trip (libpq's pipeline), the transaction's ``BEGIN`` with the first: a
        script of small statements costs one round trip instead of one per statement
        (and psycopg's own for the ``BEGIN``). A statement with a ``;`` in it (a body),
        a COPY, and every statement while DEBUG logs queries, go one by one."""
        from .postgresql_cursor import execute_pipelined, pipelinable

        if self.connection.queries_logged:
            return super().run_script_statements(cursor, statements)
        done: list[tuple[int, float]] = []
        position = 0
        while position < len(statements):
            end = position
            while (
                end < len(statements)
                and statements[end].copy_data is None
                and pipelinable(statements[end].sql)
            ):
                end += 1
            outcome = (
                execute_pipelined(
                    self.connection.connection, [s.sql for s in statements[position:end]]
                )
                if end > position
                else None
            )
            if outcome is None:  # one by one (a COPY, a body, autocommit)
                end = max(end, position + 1)
                try:
                    done.extend(super().run_script_statements(cursor, statements[position:end]))
                except FailedAt as failure:
                    raise FailedAt(position + failure.index, failure.error) from failure.error
            else:
                timings, failed = outcome
                done.extend(timings)
                if failed is not None:
                    index, error = failed
                    raise FailedAt(position + index, self._as_django_error(error))
            position = end
        return done

    def send_script(self, statements: Sequence[Statement]) -> SentScript | None:
        """A script of plain statements (no COPY, no ``;`` inside one) in the pipeline of
        the transaction migrator's own writes follow it in: its statements, those writes
        and the COMMIT go in one round trip, built while the server runs the script.
        Not while DEBUG logs queries, or after host code ran (the writer then checks its
        prepared statements first, with a query of its own)."""
        from .postgresql_cursor import prepared_names, send_pipelined

        raw = self.connection.connection
        if (
            raw is None
            or self.connection.queries_logged
            or not self.connection.in_atomic_block
            or prepared_names(raw).doubted
            or not _all_pipelinable(tuple(statements))
        ):
            return None
        flight = send_pipelined(raw, [s.sql for s in statements])
        return None if flight is None else _SentScript(self, flight)

    def _as_django_error(self, error: Exception) -> Exception:
        """psycopg's ``error`` as Django's cursor would have raised it."""
        try:
            with self.connection.wrap_database_errors:
                raise error
        except Exception as wrapped:  # noqa: BLE001 - the error to report
            return wrapped
        return error  # pragma: no cover - the block above always raises

    def is_already_done(self, error: BaseException, sql: str) -> bool:
        state = sqlstate(error)
        text = normalized(sql)
        if state in _DUPLICATE and text.startswith(("CREATE", "ALTER")):
            return self._index_is_valid(text) if " INDEX " in f" {text} " else True
        return state in _UNDEFINED and text.startswith("DROP")

    def _index_is_valid(self, text: str) -> bool:
        """An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind."""
        match = re.search(r"INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(\S+) ON", text)
        if not match:
            return True
        name = match.group(1).strip('"').lower()
        valid = self.scalar(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [name],
        )
        return bool(valid) if valid is not None else True

    # -- limits -----------------------------------------------------------------------

    @contextmanager
    def limits(self, *, timeout: float | None, lock_timeout: float | None) -> Iterator[None]:
        """``SET LOCAL`` inside a transaction; session-level (then reset) outside one."""
        settings = [
            ("statement_timeout", timeout),
            ("lock_timeout", lock_timeout),
        ]
        wanted = [(name, int(float(value) * 1000)) for name, value in settings if value]
        if not wanted:
            yield
            return
        local = self.connection.in_atomic_block
        scope = "LOCAL " if local else ""
        for name, millis in wanted:
            self.execute(f"SET {scope}{name} = %s", [millis])
        try:
            yield
        finally:
            if not local:
                for name, _ in wanted:
                    self.execute(f"RESET {name}")

    def session_keeper(self, statements: tuple[Statement, ...]) -> SessionKeeper:
        """Keeps the session settings a script changes (``SET search_path TO app``, a dump's
        ``set_config('search_path', '', false)``, ``SET ROLE``, ``SET statement_timeout``):
        the next migration and migrator's own statements see the connection's own again.
        Reads nothing for a script that sets nothing."""
        drops_prepared, names = _session_effects(statements)
        if drops_prepared:
            self._forget_prepared()
        return _SettingsKeeper(self, names) if names else SessionKeeper()

    def _forget_prepared(self) -> None:
        """Before a script that deallocates prepared statements: migrator's next flush
        prepares its own again instead of executing statements the server no longer has."""
        from .postgresql_cursor import forget_prepared

        forget_prepared(self.connection.connection)

    def host_code_ran(self) -> None:
        """It may have deallocated migrator's prepared statements (``DISCARD ALL``):
        the next flush asks the server which it still has."""
        from .postgresql_cursor import doubt_prepared

        doubt_prepared(self.connection.connection)

    def session_id(self) -> str:
        return str(self.scalar("SELECT pg_backend_pid()"))

    def transaction_marker(self) -> Any:
        # The transaction's start time: a COMMIT or ROLLBACK and whatever ran after it
        # (psycopg begins a new transaction by itself) show another one.
        if not self.connection.in_atomic_block:
            return None
        started = self.scalar("SELECT pg_catalog.transaction_timestamp()")
        return self.connection.connection.info.backend_pid, started

    def in_script_transaction(self) -> bool:
        # libpq's own status (no round trip): in a block, or in one that failed.
        from psycopg import pq

        raw = self.connection.connection
        return (
            raw is not None
            and not self.connection.in_atomic_block
            and raw.info.transaction_status
            in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
        )

    def commit_without_waiting(self, cursor: Any) -> None:
        # In the bookkeeping pipeline: no round trip of its own.
        cursor.execute("SELECT pg_catalog.set_config('synchronous_commit', 'off', true)")

    def commit_with(self, cursor: Any, chain: Any = None) -> bool:
        cursor.commit(chain)
        return True

    # -- transactions of their own (see engine/ahead.py) ------------------------------

    def begin_script(self, statements: Sequence[Statement]) -> tuple[Any, SentScript] | None:
        """Statements sent to begin a transaction of their own, below Django's
        ``Atomic`` (see :mod:`.postgresql_transaction`): the transaction to enter once
        they are taken, and the script. None, having sent nothing, where
        :meth:`send_script` would be, or inside an atomic block."""
        from psycopg import pq

        from .postgresql_cursor import send_pipelined
        from .postgresql_transaction import OwnedTransaction, prepare, release

        connection = self.connection
        if connection.in_atomic_block:
            return None
        connection.ensure_connection()
        raw = connection.connection
        if (
            raw.pgconn.transaction_status != pq.TransactionStatus.IDLE
            or raw.pgconn.pipeline_status
            or not self._sends_whole(tuple(statements))
        ):
            return None
        prepare(connection)
        try:
            flight = send_pipelined(raw, [s.sql for s in statements])
        except BaseException:
            release(connection, rollback=True)
            raise
        if flight is None:
            release(connection, rollback=False)
            return None
        return OwnedTransaction(connection), _SentScript(self, flight)

    def chain_script(self, statements: Sequence[Statement]) -> Any:
        """What :meth:`commit_with` sends after the COMMIT to begin the next transaction
        with these statements (see :meth:`begin_script`), or None where it cannot."""
        from .postgresql_cursor import Chain

        if not self._sends_whole(tuple(statements)):
            return None
        return Chain([s.sql for s in statements])

    def chained(self, chain: Any) -> tuple[Any, SentScript] | None:
        """The transaction and script a :meth:`chain_script` began, once sent."""
        from .postgresql_transaction import OwnedTransaction

        if chain is None or chain.flight is None:
            return None
        return OwnedTransaction(self.connection), _SentScript(self, chain.flight)

    def release_script(self) -> None:
        """After statements sent by :meth:`begin_script` or :meth:`chain_script` that no
        step took (their results read): their transaction rolled back."""
        from .postgresql_transaction import release

        release(self.connection, rollback=True)

    def _sends_whole(self, statements: tuple[Statement, ...]) -> bool:
        from .postgresql_cursor import prepared_names

        raw = self.connection.connection
        return (
            raw is not None
            and not self.connection.queries_logged
            and not prepared_names(raw).doubted
            and _all_pipelinable(statements)
        )

    def asynchronous_commit(self) -> None:
        """This transaction's commit need not wait for the WAL flush.

        Safe for work whose checkpoint commits with it: a server crash can lose the
        batch and its checkpoint together, never one without the other, so resuming
        redoes exactly the lost batch. Step completions are always flushed.
        """
        self.execute("SET LOCAL synchronous_commit = off")

    # -- locks ----------------------------------------------------------------------

    def try_advisory_lock(self, key: int) -> bool:
        return bool(self.scalar("SELECT pg_try_advisory_lock(%s)", [key]))

    def advisory_unlock(self, key: int) -> None:
        self.scalar("SELECT pg_advisory_unlock(%s)", [key])

    def advisory_lock_held(self, key: int) -> bool:
        classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
        return bool(
            self.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                [classid, objid],
            )
        )

    @contextmanager
    def serialized(self, key: int) -> Iterator[None]:
        self.scalar("SELECT pg_advisory_xact_lock(%s)", [key])
        yield

    def capture_index_sql(self, name: str, key: str, in_key_order: bool) -> str:
        if not in_key_order:
            return super().capture_index_sql(name, key, in_key_order)
        # Appended in key order: a BRIN index is tiny, nearly free to maintain, and finds a
        # key range in a few pages (a B-tree cost a transform ~6% of its throughput).
        return (
            f"CREATE INDEX {self.quote(name + '_key')} ON {self.quote(name)} "
            f"USING brin ({self.quote(key)}) WITH (pages_per_range = 16)"
        )

    def prepare_capture(self, name: str) -> None:
        # BRIN ranges of pages appended after the index was built stay unsummarized (every
        # scan reads them all) until summarized: once, here, before reading by range.
        brin = self.scalar(
            "SELECT i.indexrelid::regclass::text FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indrelid = to_regclass(%s) AND am.amname = 'brin'",
            [self.quote(name)],
        )
        if brin:
            self.scalar("SELECT brin_summarize_new_values(%s::regclass)", [brin])
        self.analyze(name)

    # -- estimates ------------------------------------------------------------------

    #: Tables with more rows than this get the planner's estimate instead of a COUNT(*).
    ESTIMATE_ABOVE = 200_000

    def count_rows(self, table: str, where: str = "", params: Any = None) -> int:
        size = self.scalar(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [self.quote(table)],
        )
        if size is None or size < self.ESTIMATE_ABOVE:
            return super().count_rows(table, where, params)
        clause = f" WHERE {where}" if where else ""
        plan = self.scalar(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {self.quote(table)}{clause}", params
        )
        data = json.loads(plan) if isinstance(plan, str) else plan
        return int(data[0]["Plan"]["Plan Rows"])

    # -- backups ----------------------------------------------------------------------

    @contextmanager
    def backup_space(self, backup_id: int) -> Iterator[str]:
        schema = migrator_settings.BACKUP_SCHEMA
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}")
        yield schema

    def backup_location(self, backup_id: int) -> str:
        return f"schema {migrator_settings.BACKUP_SCHEMA}"

    def drop_backup(self, backup_id: int, copies: list[str]) -> None:
        schema = self.quote(migrator_settings.BACKUP_SCHEMA)
        for copy in copies:
            self.execute(f"DROP TABLE IF EXISTS {schema}.{self.quote(copy)}")

    def free_disk_bytes(self) -> int | None:
        """The data directory's disk, when the server runs on this host (a local address
        or socket) and lets this user read where it is (superuser or
        ``pg_read_all_settings``); unknown otherwise."""
        host = str(self.connection.settings_dict.get("HOST") or "")
        if host not in ("", "localhost", "127.0.0.1", "::1") and not host.startswith("/"):
            return None
        try:
            with self.atomic():
                directory = self.scalar("SELECT current_setting('data_directory')")
        except DatabaseError:
            return None
        try:
            return shutil.disk_usage(str(directory)).free
        except OSError:  # another host after all, or not ours to see
            return None

    def relation_size(self, qualified: str) -> int | None:
        return int(self.scalar("SELECT pg_total_relation_size(%s::regclass)", [qualified]) or 0)

    # -- schema ---------------------------------------------------------------------

    def capture_schema(self) -> dict[str, Any]:
        return postgresql_schema.capture(self)


__all__ = ["PostgreSQLDialect", "normalized", "sqlstate"]


class _SettingsKeeper(SettingsKeeper):
    """Session settings read with ``current_setting`` and put back with ``set_config(...,
    false)``: inside the step's transaction, they roll back with it."""

    def _read(self) -> tuple[Any, ...]:
        # missing_ok: a custom setting (``myapp.tenant``) the script defines.
        columns = ", ".join("current_setting(%s, true)" for _ in self._names)
        return tuple(self._dialect.rows(f"SELECT {columns}", list(self._names))[0])

    def _write(self, values: tuple[Any, ...]) -> None:
        pairs = [(n, v) for n, v in zip(self._names, values, strict=True) if v is not None]
        if not pairs:
            return
        calls = ", ".join("set_config(%s, %s, false)" for _ in pairs)
        self._dialect.execute(f"SELECT {calls}", [value for pair in pairs for value in pair])


class _SentScript(SentScript):
    """A script in libpq's pipeline (see :func:`.postgresql_cursor.send_pipelined`)."""

    def __init__(self, dialect: PostgreSQLDialect, flight: Any):
        self._dialect = dialect
        self._flight = flight

    def outcome(self) -> list[tuple[int, float]]:
        done, failed = self._flight.outcome()
        if failed is not None:
            index, error = failed
            raise FailedAt(index, self._dialect._as_django_error(error))
        return done

    def end(self) -> None:
        self._flight.end()
