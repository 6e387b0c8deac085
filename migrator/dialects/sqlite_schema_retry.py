"""Running a SQLite statement again when it lost the race with a schema change.

SQLite reloads a connection's whole schema when another connection changed it (about
2 µs a table), and gives up with "database schema has changed" when the schema changed
again before the statement could start, 50 times in a row. A deployment of many small
DDL migrations on a file with many tables does exactly that to every other connection:
the console's pages and any other reader of the file failed a third of their queries
while it ran. Outside a transaction each attempt sees the newest schema, which the next
migration has already replaced; inside one, the first attempt pins the snapshot the
retry then prepares against. So the statement runs again in a transaction of its own
(it had not started, so running it again is safe).
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, transaction

#: Attempts after the first failure (one is enough once the snapshot is pinned).
RETRIES = 3


def _lost_race(exc: BaseException) -> bool:
    return "database schema has changed" in str(exc)


def retry_schema_changes(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """A Django execute wrapper: the statement again, in a transaction, while it fails
    only because the schema changed under it."""
    try:
        return execute(sql, params, many, context)
    except OperationalError as exc:
        if not _lost_race(exc):
            raise
        failure = exc
    connection = context["connection"]
    for _ in range(RETRIES):
        try:
            if connection.in_atomic_block:
                return execute(sql, params, many, context)
            with transaction.atomic(using=connection.alias):
                return execute(sql, params, many, context)
        except OperationalError as exc:
            if not _lost_race(exc):
                raise
            failure = exc
    raise failure


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: every SQLite connection retries (once each)."""
    if connection.vendor == "sqlite" and retry_schema_changes not in connection.execute_wrappers:
        connection.execute_wrappers.append(retry_schema_changes)
