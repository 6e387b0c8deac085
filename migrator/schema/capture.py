"""Capturing what a target database looks like, through its dialect; content checksums.

Tables whose names start with ``migrator_`` are migrator's own machinery and left out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from ..dialects import OWN_PREFIX, dialect_for

__all__ = ["OWN_PREFIX", "capture_schema", "table_checksum", "user_tables"]


def user_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Tables (not views) of the target, migrator's own excluded, sorted."""
    return dialect_for(connection).user_tables()


def capture_schema(connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """Tables (columns, keys, indexes, constraints, triggers), views, functions, enums,
    sequences and schemas, with row counts and sizes (see :mod:`migrator.dialects`)."""
    return dialect_for(connection).capture_schema()


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value).hex()
    return value


def table_checksum(
    connection: BaseDatabaseWrapper, table: str, chunk: int = 5000
) -> tuple[int, str]:
    """Row count and sha256 of a table's content in primary-key order (streamed)."""
    dialect = dialect_for(connection)
    quote = dialect.quote
    columns = dialect.primary_key(table) or dialect.columns_of(table)
    order = ", ".join(quote(c) for c in columns)
    digest = hashlib.sha256()
    rows = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {order}")
        while batch := cursor.fetchmany(chunk):
            for row in batch:
                digest.update(
                    json.dumps([_plain(v) for v in row], default=str, sort_keys=True).encode()
                )
                digest.update(b"\n")
            rows += len(batch)
    return rows, digest.hexdigest()
