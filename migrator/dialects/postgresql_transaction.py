"""A step's transaction on PostgreSQL begun and ended by migrator below Django's ``Atomic``,
so that one migration's COMMIT and the next migration's BEGIN and statements can go to the
server together (see ``engine.ahead``).

Django's ``Atomic`` turns psycopg's autocommit off when a transaction starts and on when it
ends, and psycopg allows that only on an idle connection: a transaction cannot end that way
while the next one's statements are already in the pipeline. The block here keeps Django's
own account of the connection exactly as ``Atomic`` keeps it (in an atomic block, marked
for rollback by an inner block that fails, on-commit callbacks run or dropped) and leaves
psycopg's autocommit off from one such transaction to the next, turning it on again once
nothing was sent after the COMMIT. psycopg is imported only with a PostgreSQL connection.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import pq

from .postgresql_cursor import in_flight


class OwnedTransaction:
    """``with OwnedTransaction(connection):`` the transaction its first statements begin
    (psycopg's autocommit is off from :func:`prepare` on, so they begin it), committed or
    rolled back on leaving as Django's outermost ``atomic()`` would."""

    # What Django asks of the blocks on its connection's ``atomic_blocks``.
    durable = False
    _from_testcase = False

    def __init__(self, connection: BaseDatabaseWrapper):
        self._connection = connection

    def __enter__(self) -> OwnedTransaction:
        connection = self._connection
        if connection.in_atomic_block:
            raise RuntimeError("an owned transaction cannot begin inside an atomic block")
        prepare(connection)
        connection.commit_on_exit = True
        connection.needs_rollback = False
        connection.autocommit = False
        connection.in_atomic_block = True
        connection.atomic_blocks.append(self)  # type: ignore[arg-type]
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        connection = self._connection
        if connection.atomic_blocks and connection.atomic_blocks[-1] is self:  # type: ignore[comparison-overlap]
            connection.atomic_blocks.pop()
        connection.in_atomic_block = False
        failed = kind is not None or connection.needs_rollback
        connection.needs_rollback = False
        if connection.closed_in_transaction:
            connection.connection = None  # as Django's block does: a new one next time
            connection.autocommit = True
            return
        if failed:
            release(connection, rollback=True)
            return
        try:
            raw = connection.connection
            if raw is not None and in_flight(raw) is None and _open(raw):
                with connection.wrap_database_errors:
                    raw.commit()  # (the step's record usually committed it already)
        except DatabaseError:
            release(connection, rollback=True)
            raise
        release(connection, rollback=False)
        hooks = connection.run_on_commit
        if hooks and in_flight(connection.connection) is None:
            connection.run_and_clear_commit_hooks()


def prepare(connection: BaseDatabaseWrapper) -> None:
    """psycopg's autocommit off, so that the next statements sent begin a transaction
    (the connection is idle here: the first of a chain, or after :func:`release`)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.autocommit:
        raw.autocommit = False


def release(connection: BaseDatabaseWrapper, *, rollback: bool) -> None:
    """After an owned transaction (or statements sent for one that never began): with
    ``rollback``, whatever was sent after it read and dropped and the open transaction
    rolled back; then psycopg's autocommit on again, unless the next transaction's
    statements are in flight (their own transaction ends the chain)."""
    raw = connection.connection
    if rollback:
        connection.run_on_commit = []
    if raw is None or raw.closed:
        connection.close()  # lost: Django opens a new session next time, as after Atomic
        connection.autocommit = True
        return
    if rollback:
        flight = in_flight(raw)
        if flight is not None:
            flight.end()
        try:
            if _open(raw):
                raw.rollback()
        except psycopg.Error:
            connection.close()  # as Django does when a rollback fails: the session is lost
            connection.autocommit = True
            return
    if in_flight(raw) is None and not raw.closed and not raw.pgconn.pipeline_status:
        raw.autocommit = True
    connection.autocommit = True


def _open(raw: Any) -> bool:
    return raw.pgconn.transaction_status in (
        pq.TransactionStatus.INTRANS,
        pq.TransactionStatus.INERROR,
    )
