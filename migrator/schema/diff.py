"""Differences between two captured schemas, each marked breaking or not.

Breaking means an application written for the old schema can fail on the new one: a table,
column, enum label, view, function or sequence gone, a type changed, a column that became
NOT NULL, a new NOT NULL column without a default, a unique index or a constraint that
refuses rows added. :mod:`migrator.schema.compat` grades both directions.
"""

from __future__ import annotations

from typing import Any

#: Constraint types that refuse rows.
_ENFORCING = ("unique", "check", "foreign_key", "exclusion")


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
                    before=before["type"],
                    after=after["type"],
                )
            )
        if before["nullable"] != after["nullable"]:
            detail = f"{column}: {'NULL' if before['nullable'] else 'NOT NULL'} → {'NULL' if after['nullable'] else 'NOT NULL'}"
            changes.append(
                _change(
                    "nullability_changed",
                    name,
                    detail,
                    not after["nullable"],
                    column=column,
                    after="NULL" if after["nullable"] else "NOT NULL",
                )
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
            info = before_items[item]
            # Whether the old schema refused something the new one accepts.
            enforcing = bool(info.get("unique")) or info.get("type") in _ENFORCING
            changes.append(_change(f"{label}_removed", name, item, False, enforcing=enforcing))
        for item in sorted(set(after_items) - set(before_items)):
            info = after_items[item]
            breaking = bool(info.get("unique")) or info.get("type") in _ENFORCING
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
        if old_tables[table] == new_tables[table]:
            continue  # most tables do not change between two versions (a fast C compare)
        changes.extend(_diff_table(table, old_tables[table], new_tables[table]))
    changes.extend(_diff_objects(old, new))
    return changes


def _diff_objects(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Enums (and their labels), views, functions and sequences."""
    changes = []
    old_enums, new_enums = old.get("enums") or {}, new.get("enums") or {}
    for enum in sorted(set(old_enums) - set(new_enums)):
        changes.append(_change("enum_removed", enum, enum, True))
    for enum in sorted(set(new_enums) - set(old_enums)):
        changes.append(_change("enum_added", enum, enum, False))
    for enum in sorted(set(old_enums) & set(new_enums)):
        before, after = list(old_enums[enum]), list(new_enums[enum])
        for label in [x for x in before if x not in after]:
            changes.append(_change("enum_label_removed", enum, label, True))
        for label in [x for x in after if x not in before]:
            changes.append(_change("enum_label_added", enum, label, False))
    for group, kind in (("views", "view"), ("functions", "function"), ("sequences", "sequence")):
        before_items, after_items = old.get(group) or {}, new.get(group) or {}
        for item in sorted(set(before_items) - set(after_items)):
            changes.append(_change(f"{kind}_removed", item, item, True))
        for item in sorted(set(after_items) - set(before_items)):
            changes.append(_change(f"{kind}_added", item, item, False))
        for item in sorted(set(before_items) & set(after_items)):
            if before_items[item] != after_items[item]:
                changes.append(_change(f"{kind}_changed", item, item, False))
    return changes
