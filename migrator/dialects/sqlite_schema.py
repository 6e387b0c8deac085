"""Capturing a SQLite schema: tables, columns, keys, indexes, foreign keys, checks,
triggers and views, from ``sqlite_schema`` and the ``pragma_*`` table functions.

The shape is the one PostgreSQL's capture has (see :mod:`.postgresql_schema`), with what
SQLite does not have left empty.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .base import OWN_PREFIX

if TYPE_CHECKING:
    from .sqlite import SQLiteDialect

_CHECK = re.compile(r"\bCHECK\s*\(", re.IGNORECASE)
_CONSTRAINT_NAME = re.compile(r"CONSTRAINT\s+(\"[^\"]+\"|\w+)\s*$", re.IGNORECASE)


def _checks(sql: str) -> list[tuple[str, str]]:
    """``(name, expression)`` of CHECK clauses in a CREATE TABLE statement."""
    found = []
    for index, match in enumerate(_CHECK.finditer(sql or ""), start=1):
        depth, start = 1, match.end()
        position = start
        while position < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[position], 0)
            position += 1
        named = _CONSTRAINT_NAME.search(sql[: match.start()].rstrip())
        name = named.group(1).strip('"') if named else f"check_{index}"
        found.append((name, " ".join(sql[start : position - 1].split())))
    return found


def _row_estimate(dialect: SQLiteDialect, table: str) -> int | None:
    """Rows of ``table``: the largest rowid (a B-tree seek), or a count without rowids."""
    q = dialect.quote
    try:
        return int(dialect.scalar(f"SELECT MAX(rowid) FROM {q(table)}") or 0)
    except Exception:  # noqa: BLE001 - WITHOUT ROWID tables have no rowid
        return int(dialect.scalar(f"SELECT COUNT(*) FROM {q(table)}") or 0)


#: Tables whose row estimates are read by one statement.
_ESTIMATES_AT_ONCE = 200


def _row_estimates(dialect: SQLiteDialect, tables: list[str]) -> dict[str, int | None]:
    """:func:`_row_estimate` of every table, a few hundred per statement (one statement
    per table was most of capturing a schema of a thousand tables)."""
    q = dialect.quote
    found: dict[str, int | None] = {}
    for start in range(0, len(tables), _ESTIMATES_AT_ONCE):
        chunk = tables[start : start + _ESTIMATES_AT_ONCE]
        union = " UNION ALL ".join(
            f"SELECT {index}, MAX(rowid) FROM {q(table)}" for index, table in enumerate(chunk)
        )
        try:
            for index, rows in dialect.rows(union):
                found[chunk[index]] = int(rows or 0)
        except Exception:  # noqa: BLE001 - a WITHOUT ROWID table among them: one by one
            found.update((table, _row_estimate(dialect, table)) for table in chunk)
    return found


_TABLES = "FROM sqlite_schema AS m JOIN {} WHERE m.type = 'table'"


def capture(dialect: SQLiteDialect) -> dict[str, Any]:
    """The schema of the main database, read by a handful of statements whatever the
    number of tables (the ``pragma_*`` functions joined to ``sqlite_schema``)."""
    objects = dialect.rows(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' "
        "ORDER BY type, name"
    )
    tables: dict[str, Any] = {}
    views: dict[str, Any] = {}
    triggers: list[tuple[str, str, str]] = []
    for kind, name, table, sql in objects:
        if name.startswith(OWN_PREFIX):
            continue
        if kind == "table":
            tables[name] = {"sql": sql}
        elif kind == "view":
            views[name] = {"materialized": False, "definition": " ".join((sql or "").split())}
        elif kind == "trigger":
            triggers.append((table, name, sql))
    columns_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for table, *column in dialect.rows(
        'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
        + _TABLES.format("pragma_table_xinfo(m.name) AS p")
        + " ORDER BY m.name, p.cid"
    ):
        columns_of[table].append(tuple(column))
    indexes_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for table, *index in dialect.rows(
        'SELECT m.name, i.name, i."unique", i.origin, i.partial, s.sql '
        + _TABLES.format(
            "pragma_index_list(m.name) AS i LEFT JOIN sqlite_schema AS s ON s.name = i.name"
        )
        + " ORDER BY m.name, i.seq"
    ):
        indexes_of[table].append(tuple(index))
    keys_of: dict[str, list[str]] = defaultdict(list)
    for index, column in dialect.rows(
        "SELECT i.name, c.name "
        + _TABLES.format("pragma_index_list(m.name) AS i JOIN pragma_index_info(i.name) AS c")
        + " ORDER BY i.name, c.seqno"
    ):
        keys_of[index].append(column if column is not None else "<expression>")
    foreign_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for table, *foreign_key in dialect.rows(
        'SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete '
        + _TABLES.format("pragma_foreign_key_list(m.name) AS f")
        + " ORDER BY m.name, f.id, f.seq"
    ):
        foreign_of[table].append(tuple(foreign_key))
    estimates = _row_estimates(dialect, list(tables))
    sizes = dialect.relation_sizes(list(tables))
    captured: dict[str, Any] = {}
    for name, info in tables.items():
        columns: dict[str, Any] = {}
        primary: list[tuple[int, str]] = []
        for column, kind, notnull, default, pk, hidden in columns_of[name]:
            columns[column] = {
                "type": str(kind).lower(),
                "nullable": not notnull and not pk,
                "default": default,
                "identity": None,
                "generated": "generated" if hidden in (2, 3) else None,
            }
            if pk:
                primary.append((pk, column))
        indexes: dict[str, Any] = {}
        constraints: dict[str, Any] = {}
        for index, unique, origin, partial, sql in indexes_of[name]:
            keys = keys_of[index]
            if origin == "pk":
                continue
            if origin == "u":
                constraints[index] = {"type": "unique", "columns": keys, "validated": True}
                continue
            where = None
            if partial and sql:
                where = sql.split(" WHERE ", 1)[-1].strip() if " WHERE " in sql.upper() else None
            indexes[index] = {
                "columns": keys,
                "unique": bool(unique),
                "method": "btree",
                "where": where,
                "valid": True,
                "definition": sql,
            }
        foreign: dict[int, dict[str, Any]] = {}
        for fk_id, parent, source, target, on_update, on_delete in foreign_of[name]:
            entry = foreign.setdefault(
                fk_id,
                {
                    "type": "foreign_key",
                    "columns": [],
                    "references": [parent],
                    "on_update": on_update,
                    "on_delete": on_delete,
                    "validated": True,
                },
            )
            entry["columns"].append(source)
            entry["references"].append(target)
        for fk_id, entry in sorted(foreign.items()):
            constraints[f"fk_{name}_{'_'.join(entry['columns'])}_{fk_id}"] = entry
        for check_name, expression in _checks(info["sql"]):
            constraints[check_name] = {
                "type": "check",
                "columns": [],
                "definition": f"CHECK ({expression})",
                "validated": True,
            }
        captured[name] = {
            "columns": columns,
            "primary_key": [column for _, column in sorted(primary)],
            "indexes": indexes,
            "constraints": constraints,
            "triggers": {},
            "rls": {"enabled": False, "forced": False, "policies": {}},
            "privileges": [],
            "partitioned": False,
            "rows": estimates.get(name),
            "bytes": None if sizes is None else sizes.get(name, 0),
        }
    for table, trigger, sql in triggers:
        if table in captured:
            captured[table]["triggers"][trigger] = {
                "definition": " ".join((sql or "").split()),
                "enabled": True,
            }
    return {
        "vendor": "sqlite",
        "schemas": ["main"],
        "tables": captured,
        "enums": {},
        "views": views,
        "functions": {},
        "sequences": {},
    }
