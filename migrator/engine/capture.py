"""Keyset batches over a table, and restoring captured old values exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .target import Target


def escape(sql: str) -> str:
    """User SQL placed into a parameterised query: '%' must reach the database as '%'."""
    return sql.replace("%", "%%")


def next_bound(target: Target, table: str, key: str, after: Any, size: int) -> Any:
    """The largest key among the next ``size`` keys after ``after`` (keyset, never OFFSET)."""
    q = target.quote
    lower = f"WHERE {q(key)} > %s " if after is not None else ""
    params = [after, size] if after is not None else [size]
    return target.scalar(
        f"SELECT MAX({q(key)}) FROM (SELECT {q(key)} FROM {q(table)} {lower}"
        f"ORDER BY {q(key)} LIMIT %s) AS migrator_batch",
        params,
    )


def key_range(
    target: Target, key: str, after: Any, upto: Any, qualifier: str = ""
) -> tuple[str, list[Any]]:
    """``key > after AND key <= upto`` (no lower bound on the first batch)."""
    column = f"{qualifier}.{target.quote(key)}" if qualifier else target.quote(key)
    if after is None:
        return f"{column} <= %s", [upto]
    return f"{column} > %s AND {column} <= %s", [after, upto]


def batches(
    target: Target, table: str, key: str, after: Any, size: int
) -> Iterator[tuple[Any, Any]]:
    """``(after, upto)`` key ranges covering the rest of ``table`` from ``after``."""
    while True:
        upto = next_bound(target, table, key, after, size)
        if upto is None:
            return
        yield after, upto
        after = upto


def captured_columns(target: Target, capture_table: str) -> tuple[str, list[str]]:
    """Key column and captured columns of a capture table (the key comes first)."""
    with target.connection.cursor() as cursor:
        description = target.connection.introspection.get_table_description(cursor, capture_table)
    names = [column.name for column in description]
    return names[0], names[1:]


def capture_rows(
    target: Target,
    capture_table: str,
    table: str,
    key: str,
    columns: list[str],
    condition: str,
    params: list[Any],
) -> int:
    q = target.quote
    selected = ", ".join(q(c) for c in [key, *columns])
    return target.execute(
        f"INSERT INTO {q(capture_table)} ({selected}) SELECT {selected} FROM {q(table)} WHERE {condition}",
        params,
    )


def restore_batch(target: Target, capture_table: str, table: str, after: Any, upto: Any) -> int:
    """Put back the captured values of one key range of ``capture_table``."""
    q = target.quote
    key, columns = captured_columns(target, capture_table)
    assignments = ", ".join(f"{q(c)} = migrator_old.{q(c)}" for c in columns)
    condition, params = key_range(target, key, after, upto, "migrator_old")
    return target.execute(
        f"UPDATE {q(table)} SET {assignments} FROM {q(capture_table)} AS migrator_old "
        f"WHERE {q(table)}.{q(key)} = migrator_old.{q(key)} AND {condition}",
        params,
    )
