"""Capturing what a target database looks like, through Django's introspection.

Tables whose names start with ``migrator_`` are migrator's own machinery and left out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

OWN_PREFIX = "migrator_"


def user_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Tables (not views) of the target, migrator's own excluded, sorted."""
    with connection.cursor() as cursor:
        tables = connection.introspection.get_table_list(cursor)
    return sorted(t.name for t in tables if t.type == "t" and not t.name.startswith(OWN_PREFIX))


def _columns(connection: BaseDatabaseWrapper, table: str) -> dict[str, dict[str, Any]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
                "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum",
                [connection.ops.quote_name(table)],
            )
            rows = cursor.fetchall()
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA table_info({connection.ops.quote_name(table)})")
            rows = [
                (name, kind, not notnull, default)
                for _, name, kind, notnull, default, _ in cursor.fetchall()
            ]
        else:
            description = connection.introspection.get_table_description(cursor, table)
            rows = [(c.name, str(c.type_code), bool(c.null_ok), c.default) for c in description]
    return {
        name: {"type": str(kind).lower(), "nullable": bool(nullable), "default": default}
        for name, kind, nullable, default in rows
    }


def _constraints(
    connection: BaseDatabaseWrapper, table: str
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    primary_key: list[str] = []
    indexes: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    for name, info in sorted(found.items()):
        columns = [c for c in info.get("columns") or [] if c]
        if info.get("primary_key"):
            primary_key = columns
            continue
        if info.get("foreign_key"):
            constraints[name] = {
                "type": "foreign_key",
                "columns": columns,
                "references": list(info["foreign_key"] or ()),
            }
        elif info.get("check"):
            constraints[name] = {"type": "check", "columns": columns}
        elif info.get("index"):
            indexes[name] = {"columns": columns, "unique": bool(info.get("unique"))}
        elif info.get("unique"):
            constraints[name] = {"type": "unique", "columns": columns}
    return primary_key, indexes, constraints


_PG_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
ORDER BY c.relname, a.attnum
"""

_PG_CONSTRAINTS = """
SELECT cl.relname, con.conname, con.contype,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
       fcl.relname,
       (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attnum = con.confkey[1])
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
WHERE n.nspname = current_schema()
ORDER BY cl.relname, con.conname
"""

_PG_INDEXES = """
SELECT t.relname, i.relname, ix.indisunique,
       array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.num ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND NOT ix.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
ORDER BY t.relname, i.relname
"""

_PG_CONSTRAINT_TYPES = {"f": "foreign_key", "c": "check", "u": "unique", "x": "exclusion"}


def _capture_postgresql(connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """The same shape as the per-table path, in three queries for the whole schema."""
    tables: dict[str, Any] = {}

    def table(name: str) -> dict[str, Any]:
        return tables.setdefault(
            name, {"columns": {}, "primary_key": [], "indexes": {}, "constraints": {}}
        )

    with connection.cursor() as cursor:
        cursor.execute(_PG_COLUMNS)
        for name, column, kind, nullable, default in cursor.fetchall():
            if not name.startswith(OWN_PREFIX):
                table(name)["columns"][column] = {
                    "type": str(kind).lower(),
                    "nullable": bool(nullable),
                    "default": default,
                }
        cursor.execute(_PG_CONSTRAINTS)
        for name, constraint, kind, columns, ref_table, ref_column in cursor.fetchall():
            if name not in tables:
                continue
            if kind == "p":
                tables[name]["primary_key"] = list(columns)
            elif kind == "f":
                tables[name]["constraints"][constraint] = {
                    "type": "foreign_key",
                    "columns": list(columns),
                    "references": [ref_table, ref_column],
                }
            else:
                tables[name]["constraints"][constraint] = {
                    "type": _PG_CONSTRAINT_TYPES.get(kind, kind),
                    "columns": list(columns),
                }
        cursor.execute(_PG_INDEXES)
        for name, index, unique, columns in cursor.fetchall():
            if name in tables:
                tables[name]["indexes"][index] = {
                    "columns": [c for c in columns if c],
                    "unique": bool(unique),
                }
    return {"vendor": connection.vendor, "tables": dict(sorted(tables.items()))}


def capture_schema(connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """Tables with columns (type, nullability, default), primary key, indexes, constraints."""
    if connection.vendor == "postgresql":
        return _capture_postgresql(connection)
    tables: dict[str, Any] = {}
    for table in user_tables(connection):
        primary_key, indexes, constraints = _constraints(connection, table)
        tables[table] = {
            "columns": _columns(connection, table),
            "primary_key": primary_key,
            "indexes": indexes,
            "constraints": constraints,
        }
    return {"vendor": connection.vendor, "tables": tables}


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value).hex()
    return value


def table_checksum(
    connection: BaseDatabaseWrapper, table: str, chunk: int = 5000
) -> tuple[int, str]:
    """Row count and sha256 of a table's content in primary-key order (streamed)."""
    primary_key, _, _ = _constraints(connection, table)
    quote = connection.ops.quote_name
    columns = list(_columns(connection, table))
    order = ", ".join(quote(c) for c in (primary_key or columns))
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
