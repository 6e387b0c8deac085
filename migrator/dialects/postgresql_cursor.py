"""Migrator's own writes on PostgreSQL, in a module of its own: psycopg is an optional
extra (``django-migrator[postgres]``), imported only once a PostgreSQL connection needs it.

A flush of the journal is a handful of small INSERTs and UPDATEs per migration. Through
psycopg's cursor each costs about 70 µs of Python on the client (query conversion,
preparation bookkeeping, result handling), more than the server spends on it, so the
:class:`Writer` sends them below the cursor: values dumped by psycopg's own adapters,
statements sent in libpq's pipeline as they are given and prepared once per connection
under names of its own, their results read in one go at the end of the flush. A
migration script's statements go the same way (:func:`execute_pipelined`): together, in
one round trip with their transaction's ``BEGIN``.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
import weakref
from collections.abc import Generator, Sequence
from typing import Any

import psycopg
from psycopg import errors, generators, pq
from psycopg._encodings import conn_encoding
from psycopg.adapt import PyFormat, Transformer

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_FAILED = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_ABORTED, pq.ExecStatus.BAD_RESPONSE)
_PLACEHOLDER = re.compile(r"%[s%]")


class PreparedNames:
    """The statements migrator prepared on one connection (query -> name).

    Names are never reused: after :meth:`forget` (a script deallocated statements, or may
    have) the next flush prepares under new names, so it never collides with a statement
    the server still has."""

    _counter = itertools.count(1)

    def __init__(self) -> None:
        self.names: dict[bytes, bytes] = {}
        #: Code migrator does not control used the connection since the last flush.
        self.doubted = False

    def new_name(self) -> bytes:
        return f"migrator_{next(self._counter)}".encode()

    def forget(self) -> None:
        self.names.clear()

    def check(self, connection: Any) -> None:
        """Keep only the names the server still has (one query, after code migrator does
        not control ran on the connection)."""
        self.doubted = False
        if not self.names:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_catalog.pg_prepared_statements")
            existing = {name.encode() for (name,) in cursor}
        self.names = {query: name for query, name in self.names.items() if name in existing}


#: Per psycopg connection (a new connection starts with none prepared).
_PREPARED: weakref.WeakKeyDictionary[Any, PreparedNames] = weakref.WeakKeyDictionary()


def prepared_names(connection: Any) -> PreparedNames:
    names = _PREPARED.get(connection)
    if names is None:
        names = _PREPARED[connection] = PreparedNames()
    return names


def forget_prepared(connection: Any) -> None:
    """Before a script that deallocates prepared statements (``DEALLOCATE``, ``DISCARD
    ALL``): migrator's next flush prepares its statements again."""
    if connection is not None:
        prepared_names(connection).forget()


def doubt_prepared(connection: Any) -> None:
    """After a migration's own code used ``connection``: the next flush checks which of
    migrator's statements the server still has (that code may have run ``DISCARD ALL``)."""
    if connection is not None and connection in _PREPARED:
        _PREPARED[connection].doubted = True


def pipelinable(sql: str) -> bool:
    """Whether a statement of a script can go in libpq's pipeline: one statement per query
    (only a ``;`` can separate two), and no COPY (which a pipeline cannot carry)."""
    return ";" not in sql and sql.lstrip()[:4].upper() != "COPY"


def execute_pipelined(
    connection: psycopg.Connection[Any], sqls: Sequence[str]
) -> tuple[list[tuple[int, float]], tuple[int, Exception] | None] | None:
    """Execute a script's statements (each :func:`pipelinable`) in ``connection``'s
    transaction in one round trip, preceded by the transaction's ``BEGIN`` if it has not
    begun (psycopg sends that alone and waits for it); a round trip per statement
    otherwise. None, having done nothing, in autocommit (where a pipeline would make them
    one implicit transaction) or once the transaction has failed.

    Each statement's rows (-1: none reported, as a cursor's ``rowcount``) and seconds
    (from the previous one's end to its own, as its results arrive), up to the first that
    failed; then that one's index and psycopg's error (the server ran none after it). A
    connection lost meanwhile is the error of the first statement not answered."""
    flight = send_pipelined(connection, sqls)
    if flight is None:
        return None
    try:
        return flight.outcome()
    finally:
        flight.end()


#: Per psycopg connection: the script whose results are still to be read, if any.
_IN_FLIGHT: weakref.WeakKeyDictionary[Any, InFlight] = weakref.WeakKeyDictionary()


def send_pipelined(connection: psycopg.Connection[Any], sqls: Sequence[str]) -> InFlight | None:
    """Send a script's statements as :func:`execute_pipelined` does, without waiting for
    them: the server runs them while the client does other work. Their results are read
    by :meth:`InFlight.outcome`; until :meth:`InFlight.end` only the :class:`Writer` may
    use the connection (its statements follow them in the same pipeline and
    transaction). None, having sent nothing, where :func:`execute_pipelined` is."""
    pgconn = connection.pgconn
    status = pgconn.transaction_status
    if (
        connection.autocommit
        or pgconn.pipeline_status
        or status not in (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)
    ):
        return None
    queries = _encoded(connection, sqls)
    if isinstance(queries, InFlight):
        return queries
    begins = status == pq.TransactionStatus.IDLE
    with connection.lock:
        try:
            pgconn.enter_pipeline_mode()
            _send_script(connection, queries, begins=begins)
            pgconn.flush()
        except BaseException:
            _abandon(connection)
            raise
    flight = _IN_FLIGHT[connection] = InFlight(connection, len(queries), begins=begins)
    return flight


def _encoded(connection: Any, sqls: Sequence[str]) -> list[bytes] | InFlight:
    """The statements in the connection's encoding, or the failure of the first that
    cannot be (as the outcome of a script of which nothing was sent)."""
    encoding = conn_encoding(connection)
    queries = []
    for index, sql in enumerate(sqls):
        try:
            queries.append(sql.encode(encoding))
        except UnicodeEncodeError as exc:  # text the connection's encoding cannot carry
            return InFlight(connection, 0, begins=False, failed=([], (index, exc)))
    return queries


def _send_script(connection: Any, queries: Sequence[bytes], *, begins: bool) -> None:
    """A script's statements into the pipeline (with its transaction's BEGIN first),
    each answered as it ends."""
    pgconn = connection.pgconn
    if begins:
        pgconn.send_query_params(_begin(connection), None)
        pgconn.send_flush_request()
    for query in queries:
        pgconn.send_query_params(query, None)
        # The server answers each as it ends (it would keep all for a Sync):
        # every statement's own seconds, and results readable before a Sync.
        pgconn.send_flush_request()


class Chain:
    """The next transaction's statements, sent right after a COMMIT (see
    :meth:`Writer.commit`): :attr:`flight` once sent."""

    def __init__(self, sqls: Sequence[str]):
        self.sqls = sqls
        self.flight: InFlight | None = None


class InFlight:
    """A script's statements sent in their transaction's pipeline, results not yet read."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        count: int,
        *,
        begins: bool,
        failed: tuple[list[tuple[int, float]], tuple[int, Exception] | None] | None = None,
    ):
        self._connection = connection
        self._count = count
        self._begins = begins
        self._sent = time.perf_counter()
        self._outcome = failed

    def restart_clock(self) -> None:
        """Time the first statement from now (sent behind others, answered first)."""
        self._sent = time.perf_counter()

    def outcome(self) -> tuple[list[tuple[int, float]], tuple[int, Exception] | None]:
        """What :func:`execute_pipelined` returns, read once (the results of every one of
        the script's statements, so that what follows them in the pipeline is read by
        whoever sent it)."""
        if self._outcome is None:
            try:
                self._outcome = self._read()
            finally:
                if _IN_FLIGHT.get(self._connection) is self:
                    del _IN_FLIGHT[self._connection]
        return self._outcome

    def _read(self) -> tuple[list[tuple[int, float]], tuple[int, Exception] | None]:
        connection = self._connection
        pgconn = connection.pgconn
        encoding = conn_encoding(connection)
        answers: list[tuple[list[Any], float]] = []
        expected = self._count + (1 if self._begins else 0)
        lost: Exception | None = None
        with connection.lock:
            try:
                connection.wait(_fetch_timed(pgconn, answers, expected))
            except Exception as exc:  # noqa: BLE001 - the connection's loss, told below
                _abandon(connection)
                lost = exc
            except BaseException:
                _abandon(connection)
                raise
        if self._begins and answers:
            begun, _ = answers.pop(0)
            if begun[0].status in _FAILED:  # nothing after it ran
                return [], (0, errors.error_from_result(begun[0], encoding=encoding))
        done: list[tuple[int, float]] = []
        previous = self._sent
        for index, (results, arrived) in enumerate(answers):
            if results[-1].status in _FAILED:  # the first to fail (those after it: aborted)
                return done, (index, errors.error_from_result(results[-1], encoding=encoding))
            rows = results[-1].command_tuples
            done.append((-1 if rows is None else int(rows), arrived - previous))
            previous = arrived
        if lost is not None:
            return done, (min(len(done), self._count - 1), lost)
        return done, None

    def end(self) -> None:
        """Its results read (if they were not) and the pipeline left, with whatever was
        sent after them read and dropped: the connection is psycopg's again, or closed if
        it was lost (the outcome says so, or the next use of the connection)."""
        self.outcome()
        connection = self._connection
        if connection.closed or not connection.pgconn.pipeline_status:
            return
        if _IN_FLIGHT.get(connection) not in (None, self):
            return  # the pipeline carries the next transaction's statements now: theirs
        pgconn = connection.pgconn
        with connection.lock:
            try:
                pgconn.pipeline_sync()
                connection.wait(_exchange(pgconn))
            except Exception:  # noqa: BLE001 - lost: the outcome already tells what failed
                _abandon(connection)
                return
            except BaseException:
                _abandon(connection)
                raise
            pgconn.exit_pipeline_mode()


def in_flight(connection: Any) -> InFlight | None:
    """The script sent on ``connection`` whose results are still to be read, if any."""
    return _IN_FLIGHT.get(connection) if connection is not None else None


def settle_in_flight(connection: Any) -> None:
    """Read a script's results still in flight on ``connection`` (before reading what was
    sent after them)."""
    flight = _IN_FLIGHT.get(connection)
    if flight is not None:
        flight.outcome()


def _fetch_timed(
    pgconn: Any, answers: list[tuple[list[Any], float]], count: int
) -> Generator[Any, Any, None]:
    """The results of the next ``count`` commands into ``answers``, with when they
    arrived (those that did, if the connection is lost), after sending what the socket
    could not take yet (a big script)."""
    yield from generators.send(pgconn)
    while len(answers) < count:
        batch = yield from generators.fetch_many(pgconn)
        answers.append((batch, time.perf_counter()))


class PipelinedReads:
    """Queries (``%s`` placeholders) sent together in libpq's pipeline, each answered as
    soon as the server has run it: the rows of one are read (and worked on by the caller)
    while the server runs the next. One round trip in all, one implicit transaction
    unless the connection's is open. Nothing else may use the connection meanwhile.

    ``with PipelinedReads(connection, queries) as reads:`` then :meth:`rows` once per
    query, in order; leaving reads what was not and leaves pipeline mode."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        queries: Sequence[tuple[str, Sequence[Any] | None]],
    ):
        self._connection = connection
        self._queries = queries
        self._read = 0
        self._transformer = Transformer(connection)

    def __enter__(self) -> PipelinedReads:
        connection, pgconn = self._connection, self._connection.pgconn
        settle_in_flight(connection)
        dump = self._transformer.dump_sequence
        with connection.lock:
            try:
                pgconn.enter_pipeline_mode()
                for sql, params in self._queries:
                    values = dump(params, [PyFormat.TEXT] * len(params)) if params else None
                    pgconn.send_query_params(numbered(sql), values)
                    pgconn.send_flush_request()  # answered as it ends, not at the Sync
                pgconn.pipeline_sync()
                connection.wait(generators.send(pgconn))
            except BaseException:
                _abandon(connection)
                raise
        return self

    def rows(self) -> list[tuple[Any, ...]]:
        """The next query's rows (its error, if it failed: those after it did not run)."""
        connection = self._connection
        with connection.lock:
            try:
                results = connection.wait(generators.fetch_many(connection.pgconn))
            except BaseException:
                _abandon(connection)
                raise
        self._read += 1
        result = results[-1]
        if result.status in _FAILED:
            raise errors.error_from_result(result, encoding=conn_encoding(connection))
        self._transformer.set_pgresult(result)
        return self._transformer.load_rows(0, result.ntuples, tuple)

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        connection, pgconn = self._connection, self._connection.pgconn
        if connection.closed or not pgconn.pipeline_status:
            return
        with connection.lock:
            try:
                for _ in range(self._read, len(self._queries)):
                    connection.wait(generators.fetch_many(pgconn))
                connection.wait(_exchange(pgconn))  # up to the Sync
            except BaseException:
                _abandon(connection)
                if kind is None:
                    raise
                return
            pgconn.exit_pipeline_mode()


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> bytes:
    """``sql`` with PostgreSQL's own ``$1, $2, ...`` placeholders for ``%s`` (``%%``: a
    percent sign)."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(
        lambda m: "%" if m.group() == "%%" else f"${next(counter)}", sql
    ).encode()


class Writer:
    """Sends statements (``%s`` placeholders) in libpq's pipeline and reads their results
    in one go when a result is read, before a COPY, or when closed.

    Inside a transaction each statement goes to the server as soon as it is given, so the
    server runs it while the client dumps the next (the overlap psycopg's own pipeline
    has); in autocommit they wait for the end, where one implicit transaction takes them
    all or none. Statements are prepared once per connection (PostgreSQL re-plans one
    whose tables changed), unless ``prepare`` is off (a pooler that cannot keep them) or
    the host's connection has a prepare threshold: psycopg then prepares statements of its
    own and deallocates all of them, ours with them, after any ``ALTER``, ``DROP`` or
    rollback; such a connection gets unnamed statements. With no threshold (Django's
    default) psycopg prepares nothing and deallocates nothing.

    At a transaction's start the writer begins it the way psycopg would (isolation level
    and all). Nothing else may use the connection while statements are in flight."""

    def __init__(self, connection: psycopg.Connection[Any], *, prepare: bool):
        self.connection = connection
        self._pgconn = connection.pgconn
        self._prepared = (
            prepared_names(connection) if prepare and connection.prepare_threshold is None else None
        )
        self._transformer = Transformer(connection)
        self._queue: list[tuple[str, Sequence[Any] | None]] = []
        #: Per command in flight: the query it prepares, or None (a statement, the BEGIN).
        self._commands: list[bytes | None] = []
        self._results: list[Any] = []
        self._cursor: psycopg.Cursor[Any] | None = None
        #: The next transaction's statements, to follow the COMMIT (see :meth:`commit`).
        self._chain: Chain | None = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
            return
        # The transaction is going to roll back: nothing queued is sent, and what is in
        # flight is read and dropped so that the connection leaves pipeline mode.
        self._queue.clear()
        self._chain = None
        try:
            if self._commands and not self.connection.closed:
                self.send(raise_errors=False)
        except Exception:  # noqa: BLE001 - lost meanwhile (then closed): the error is the one raised
            pass
        finally:
            self._close_cursor()

    # -- the cursor's interface, as rows.py uses it -----------------------------------

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.connection.autocommit:
            self._queue.append((sql, params))
            return
        self._start()
        self._send_one(sql, params)
        self._pgconn.flush()  # to the server now (what does not fit goes at the end)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.execute(sql, row)

    def commit(self, chain: Chain | None = None) -> None:
        """End the transaction after what was sent, in the same round trip (its result,
        or the error that rolled it back, is read with theirs).

        ``chain``: the next transaction's statements, sent right after the COMMIT and a
        sync (so they begin a transaction of their own, whatever becomes of this one)
        and left running when this one's results are read: :attr:`Chain.flight` is
        then theirs, and the connection stays in pipeline mode until it ends."""
        if self.connection.autocommit:
            raise psycopg.ProgrammingError("no transaction to commit in autocommit")
        self._start()
        self._pgconn.send_query_params(b"COMMIT", None)
        self._commands.append(None)
        self._chain = chain

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row of the last statement's result (sending what is queued)."""
        self.send()
        result = self._results[-1] if self._results else None
        if result is None or result.status != pq.ExecStatus.TUPLES_OK or not result.ntuples:
            return None
        self._transformer.set_pgresult(result)
        return self._transformer.load_row(0, tuple)

    def copy(self, sql: str) -> Any:
        """psycopg's COPY (which a pipeline cannot carry), after what was sent."""
        self.send()
        if self._cursor is None:
            self._cursor = self.connection.cursor()
        return self._cursor.copy(sql)

    def close(self) -> None:
        try:
            self.send()
        finally:
            self._close_cursor()

    def _send_chain(self) -> InFlight | None:
        """The chained statements (see :meth:`commit`) after the sync, if any: their
        flight while they run (one that sent nothing is the chain's, not in flight)."""
        chain, self._chain = self._chain, None
        if chain is None:
            return None
        queries = _encoded(self.connection, chain.sqls)
        if isinstance(queries, InFlight):
            chain.flight = queries
            return None
        _send_script(self.connection, queries, begins=True)
        chain.flight = InFlight(self.connection, len(queries), begins=True)
        return chain.flight

    def _close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    # -- sending ----------------------------------------------------------------------

    def _start(self) -> None:
        """Into pipeline mode (and the transaction begun) before the first command."""
        if self._pgconn.pipeline_status:
            return
        prepared = self._prepared
        if prepared is not None and prepared.doubted:
            prepared.check(self.connection)
        self._pgconn.enter_pipeline_mode()
        connection = self.connection
        if not connection.autocommit and (
            self._pgconn.transaction_status == pq.TransactionStatus.IDLE
        ):
            self._pgconn.send_query_params(_begin(connection), None)
            self._commands.append(None)

    def _send_one(self, sql: str, params: Sequence[Any] | None) -> None:
        pgconn, prepared = self._pgconn, self._prepared
        query = numbered(sql)
        values = (
            self._transformer.dump_sequence(params, [PyFormat.TEXT] * len(params))
            if params
            else None
        )
        if prepared is None:
            pgconn.send_query_params(query, values)
        else:
            name = prepared.names.get(query)
            if name is None:
                name = prepared.names[query] = prepared.new_name()
                pgconn.send_prepare(name, query)
                self._commands.append(query)
            pgconn.send_query_prepared(name, values)
        self._commands.append(None)

    def send(self, *, raise_errors: bool = True) -> None:
        """What is queued, then the results of everything in flight (one round trip);
        raises the first statement's error."""
        if not self._queue and not self._commands:
            return
        connection, pgconn, prepared = self.connection, self._pgconn, self._prepared
        # A script's statements sent before ours: theirs are read by whoever sent them.
        settle_in_flight(connection)
        commands: list[bytes | None] = []
        with connection.lock:
            try:
                self._start()
                queue, self._queue = self._queue, []
                for sql, params in queue:
                    self._send_one(sql, params)
                commands, self._commands = self._commands, []
                pgconn.pipeline_sync()
                chained = self._send_chain()
                results: list[Any] = connection.wait(_exchange(pgconn))
            except BaseException:
                self._commands = []
                if prepared is not None:
                    prepared.forget()  # which of them the server has is unknown
                _abandon(connection)
                raise
            if chained is None:
                pgconn.exit_pipeline_mode()
            else:  # the next transaction's, read by whoever takes them
                chained.restart_clock()  # (the server began them as it answered these)
                _IN_FLIGHT[connection] = chained
        self._results = results
        if prepared is not None:
            for prepares, result in zip(commands, results, strict=False):
                if prepares is not None and result.status not in _OK:
                    prepared.names.pop(prepares, None)  # not prepared: its pipeline failed
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                error = errors.error_from_result(result, encoding=conn_encoding(connection))
                if prepared is not None and isinstance(error, errors.InvalidSqlStatementName):
                    # Deallocated behind migrator's back: this transaction is lost, but the
                    # writes recording that (and all later ones) prepare them again.
                    prepared.forget()
                if raise_errors:
                    raise error
                return


def _begin(connection: Any) -> bytes:
    """The statement psycopg starts a transaction with (isolation level, read only)."""
    start = getattr(connection, "_get_tx_start_command", None)
    return start() if start is not None else b"BEGIN"


def _exchange(pgconn: Any) -> Generator[Any, Any, list[Any]]:
    """Flush the pipeline and read every result up to its sync (psycopg's generators,
    so waiting and interruption behave as in psycopg's own calls)."""
    yield from generators.send(pgconn)
    results: list[Any] = []
    while True:
        batch = yield from generators.fetch_many(pgconn)
        if batch and batch[0].status == pq.ExecStatus.PIPELINE_SYNC:
            return results
        results.extend(batch)


def _abandon(connection: Any) -> None:
    """Out of pipeline mode after a failure (interrupted while waiting, a value that
    could not be dumped): with results still pending the session's state is unknown, so
    the connection is closed rather than reused with answers that belong to other
    statements. Django opens a new one; the transaction was lost with the old one."""
    pgconn = connection.pgconn
    if not pgconn.pipeline_status:
        return
    try:
        pgconn.exit_pipeline_mode()
    except psycopg.OperationalError:
        connection.close()
