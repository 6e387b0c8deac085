"""Differences between two captured schemas, each marked breaking or not.

Breaking means an application written for the old schema can fail on the new one: a table
or column gone, a type changed, a column that became NOT NULL, a new NOT NULL column
without a default, a unique index or constraint added.
"""

from __future__ import annotations

from typing import Any


def _change(kind: str, table: str, detail: str, breaking: bool, **extra: Any) -> dict[str, Any]:
    return {"change": kind, "table": table, "detail": detail, "breaking": breaking, **extra}


def _diff_table(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    old_cols, new_cols = old["columns"], new["columns"]
    for column in sorted(set(old_cols) - set(new_cols)):
        changes.append(_change("column_removed", name, column, True, column=column))
    for column in sorted(set(new_cols) - set(old_cols)):
        info = new_cols[column]
        breaking = not info["nullable"] and info["default"] is None
        changes.append(
            _change("column_added", name, f"{column} {info['type']}", breaking, column=column)
        )
    for column in sorted(set(old_cols) & set(new_cols)):
        before, after = old_cols[column], new_cols[column]
        if before["type"] != after["type"]:
            changes.append(
                _change(
                    "type_changed",
                    name,
                    f"{column}: {before['type']} → {after['type']}",
                    True,
                    column=column,
                )
            )
        if before["nullable"] != after["nullable"]:
            detail = f"{column}: {'NULL' if before['nullable'] else 'NOT NULL'} → {'NULL' if after['nullable'] else 'NOT NULL'}"
            changes.append(
                _change("nullability_changed", name, detail, not after["nullable"], column=column)
            )
        if before["default"] != after["default"]:
            changes.append(
                _change(
                    "default_changed",
                    name,
                    f"{column}: {before['default']} → {after['default']}",
                    False,
                    column=column,
                )
            )
    if old["primary_key"] != new["primary_key"]:
        changes.append(
            _change(
                "primary_key_changed", name, f"{old['primary_key']} → {new['primary_key']}", True
            )
        )
    for group, label in (("indexes", "index"), ("constraints", "constraint")):
        before_items, after_items = old[group], new[group]
        for item in sorted(set(before_items) - set(after_items)):
            changes.append(_change(f"{label}_removed", name, item, False))
        for item in sorted(set(after_items) - set(before_items)):
            info = after_items[item]
            breaking = bool(info.get("unique")) or info.get("type") in (
                "unique",
                "check",
                "foreign_key",
            )
            changes.append(
                _change(f"{label}_added", name, f"{item} {info.get('columns')}", breaking)
            )
    return changes


def diff_schemas(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every difference from ``old`` to ``new``, tables in name order."""
    old_tables, new_tables = old.get("tables", {}), new.get("tables", {})
    changes = []
    for table in sorted(set(old_tables) - set(new_tables)):
        changes.append(_change("table_removed", table, table, True))
    for table in sorted(set(new_tables) - set(old_tables)):
        changes.append(_change("table_added", table, table, False))
    for table in sorted(set(old_tables) & set(new_tables)):
        changes.extend(_diff_table(table, old_tables[table], new_tables[table]))
    return changes
