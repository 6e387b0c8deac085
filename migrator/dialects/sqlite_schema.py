"""Capturing a SQLite schema: tables, columns, keys, indexes, foreign keys, checks,
triggers and views, from ``sqlite_schema`` and the ``pragma_*`` table functions.

The shape is the one PostgreSQL's capture has (see :mod:`.postgresql_schema`), with what
SQLite does not have left empty.
"""

from __future__ import annotations

import re
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


def capture(dialect: SQLiteDialect) -> dict[str, Any]:
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
    captured: dict[str, Any] = {}
    for name, info in tables.items():
        columns: dict[str, Any] = {}
        primary: list[tuple[int, str]] = []
        for _, column, kind, notnull, default, pk, hidden in dialect.rows(
            'SELECT cid, name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(%s)',
            [name],
        ):
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
        for _, index, unique, origin, partial in dialect.rows(
            'SELECT seq, name, "unique", origin, partial FROM pragma_index_list(%s)', [name]
        ):
            keys = [
                column if column is not None else "<expression>"
                for _, _, column in dialect.rows(
                    "SELECT seqno, cid, name FROM pragma_index_info(%s) ORDER BY seqno", [index]
                )
            ]
            if origin == "pk":
                continue
            if origin == "u":
                constraints[index] = {"type": "unique", "columns": keys, "validated": True}
                continue
            sql = dialect.scalar("SELECT sql FROM sqlite_schema WHERE name = %s", [index])
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
        for fk_id, _, parent, source, target, on_update, on_delete, _match in dialect.rows(
            'SELECT id, seq, "table", "from", "to", on_update, on_delete, "match" '
            "FROM pragma_foreign_key_list(%s) ORDER BY id, seq",
            [name],
        ):
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
            "rows": _row_estimate(dialect, name),
            "bytes": dialect.relation_size(name),
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
