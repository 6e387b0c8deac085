"""Compatibility levels between two schemas, in Confluent Schema Registry's and buf's
vocabulary, decided change by change:

- **backward**: the application written for the old schema keeps working on the new one
  (nothing it uses disappears or narrows; nothing new refuses what it writes);
- **forward**: the application written for the new schema works on the old one (what a
  rollback of the database alone needs: it uses nothing the old schema lacks);
- **full**: both, so the deploy order of database and application is free;
- **none**: neither: expand/contract, or downtime.

Each change of :func:`migrator.schema.diff.diff_schemas` gets ``backward`` and ``forward``
flags; the level follows from them. Over a range of versions the *transitive* level is the
weakest of the consecutive hops and of the direct comparison.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from .diff import diff_schemas

LEVELS = ("full", "backward", "forward", "none")

#: Type changes that only widen what a column accepts (old values all fit the new type).
_WIDER = {
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("real", "double precision"),
    ("character varying", "text"),
    ("character", "text"),
    ("timestamp without time zone", "timestamp with time zone"),
    ("json", "jsonb"),
}
#: Spellings of the same type (PostgreSQL's own names on the right).
_ALIASES = {
    "varchar": "character varying",
    "char": "character",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "decimal": "numeric",
}
_SIZED = re.compile(r"^(?P<base>[a-z ]+?)\s*\((?P<size>\d+)(?:,\s*(?P<scale>\d+))?\)$")


def widens(before: str, after: str) -> bool:
    """Whether every value of type ``before`` fits ``after`` (``varchar(20)`` →
    ``varchar(40)`` or ``text``, ``integer`` → ``bigint``, ...)."""
    before, after = before.lower().strip(), after.lower().strip()
    old, new = _SIZED.match(before), _SIZED.match(after)
    old_base = old.group("base").strip() if old else before
    new_base = new.group("base").strip() if new else after
    old_base, new_base = _ALIASES.get(old_base, old_base), _ALIASES.get(new_base, new_base)
    if old and new and old_base == new_base:
        if old.group("scale") != new.group("scale"):
            return False
        return int(new.group("size")) >= int(old.group("size"))
    if old and not new and old_base == new_base:
        return True  # varchar(20) -> varchar: unlimited
    return (old_base, new_base) in _WIDER


def flags(change: dict[str, Any]) -> tuple[bool, bool]:
    """``(backward, forward)``: whether the old application survives the new schema, and
    the new application the old schema, as far as this change goes."""
    kind = change["change"]
    if kind in ("table_removed", "column_removed", "enum_removed", "view_removed"):
        return False, True
    if kind in ("function_removed", "enum_label_removed", "sequence_removed"):
        return False, True
    if kind in ("table_added", "enum_added", "view_added", "function_added", "sequence_added"):
        return True, False
    if kind == "enum_label_added":
        return True, False
    if kind == "column_added":
        # Old inserts that omit it work only if it is nullable or has a default (``breaking``
        # says they do not); the new application uses it, which the old schema lacks.
        return not change["breaking"], False
    if kind == "type_changed":
        before, after = change["before"], change["after"]
        if widens(before, after):
            return True, False
        if widens(after, before):
            return False, True
        return False, False
    if kind == "nullability_changed":
        became_not_null = change.get("after") == "NOT NULL"
        return (False, True) if became_not_null else (True, False)
    if kind == "primary_key_changed":
        return False, False
    if kind in ("index_added", "constraint_added"):
        # A new uniqueness, check or reference may refuse what the old application writes;
        # the old schema simply does not enforce it for the new one.
        return (not change["breaking"]), True
    if kind in ("index_removed", "constraint_removed"):
        # The new application may write what the old schema still refuses.
        return True, not change.get("enforcing", False)
    return True, True  # defaults, view and function bodies, comments


def level(backward: bool, forward: bool) -> str:
    if backward and forward:
        return "full"
    if backward:
        return "backward"
    if forward:
        return "forward"
    return "none"


def weakest(levels: Sequence[str]) -> str:
    """The level that every one of ``levels`` satisfies."""
    backward = all(item in ("full", "backward") for item in levels)
    forward = all(item in ("full", "forward") for item in levels)
    return level(backward, forward)


_STATISTICS = ("rows", "bytes")


def structure(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its statistics (row counts, sizes), which change between any two
    captures: what is left compares fast, table by table."""
    tables = {}
    for name, table in (schema.get("tables") or {}).items():
        kept = {k: v for k, v in table.items() if k not in _STATISTICS}
        if "indexes" in kept:
            kept["indexes"] = {
                index: {k: v for k, v in info.items() if k not in _STATISTICS}
                for index, info in kept["indexes"].items()
            }
        tables[name] = kept
    return {**schema, "tables": tables}


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changes from ``old`` to ``new`` with their flags, and the level they add up to."""
    changes = []
    for change in diff_schemas(old, new):
        backward, forward = flags(change)
        changes.append({**change, "backward": backward, "forward": forward})
    return {
        "level": level(all(c["backward"] for c in changes), all(c["forward"] for c in changes)),
        "changes": changes,
    }


def fingerprints(schema: dict[str, Any]) -> dict[str, str]:
    """A digest per table, to find the tables two versions differ in without comparing
    them field by field (a matrix compares every pair)."""
    return {
        name: hashlib.sha1(
            json.dumps(table, sort_keys=True, default=str).encode(), usedforsecurity=False
        ).hexdigest()
        for name, table in (schema.get("tables") or {}).items()
    }


def compare_with(
    old: dict[str, Any], new: dict[str, Any], old_prints: dict[str, str], new_prints: dict[str, str]
) -> dict[str, Any]:
    """:func:`compare`, looking only at the tables whose fingerprints differ."""
    changed = {t for t in old_prints.keys() & new_prints.keys() if old_prints[t] != new_prints[t]}
    gone, added = old_prints.keys() - new_prints.keys(), new_prints.keys() - old_prints.keys()
    old_tables, new_tables = old.get("tables") or {}, new.get("tables") or {}
    return compare(
        {**old, "tables": {t: old_tables[t] for t in changed | gone}},
        {**new, "tables": {t: new_tables[t] for t in changed | added}},
    )
