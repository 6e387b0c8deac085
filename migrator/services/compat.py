"""Compatibility between recorded schema versions: one pair (``diff``) or every pair of a
target's versions (``compat``, the compatibility matrix)."""

from __future__ import annotations

from typing import Any

from ..catalog.versions import key_of
from ..exceptions import BadInput
from ..models import Migration, SchemaVersion
from ..schema.compat import compare, compare_with, fingerprints, structure, weakest
from .common import check_database, require_tables


def _versions(database: str) -> list[SchemaVersion]:
    """The target's schema versions (captured or expected by a dry run), in version order."""
    require_tables()
    check_database(database)
    rows = SchemaVersion.objects.filter(database=database).only(
        "version", "release", "origin", "schema", "active"
    )
    for row in rows:
        row.schema = structure(row.schema or {})
    return sorted(rows, key=lambda row: key_of(row.version))


def _find(rows: list[SchemaVersion], version: str, database: str) -> int:
    for index, row in enumerate(rows):
        if row.version == version:
            return index
    known = ", ".join(row.version for row in rows) or "none yet"
    raise BadInput(f"no schema version {version!r} recorded for {database} (recorded: {known})")


def diff(database: str, old: str, new: str) -> dict[str, Any]:
    """The changes from schema version ``old`` to ``new`` with their compatibility flags."""
    rows = _versions(database)
    before, after = rows[_find(rows, old, database)], rows[_find(rows, new, database)]
    return {"database": database, "from": old, "to": new, **compare(before.schema, after.schema)}


def matrix(
    database: str, old: str | None = None, new: str | None = None, *, by_release: bool = False
) -> dict[str, Any]:
    """Every upgrade pair between ``old`` and ``new`` (default: all recorded versions): its
    level, the transitive level over the hops in between, the breaking changes, and what
    migrations it takes (schema, data or none) with their descriptions.

    ``by_release``: a row and column per release instead, each release's schema being its
    last recorded version's (versions of no release stand for themselves); transitive
    levels still go through every version in between."""
    rows = _versions(database)
    first = _find(rows, old, database) if old else 0
    last = _find(rows, new, database) if new else len(rows) - 1
    rows = rows[first : last + 1]
    migrations = sorted(
        Migration.objects.filter(database=database, repeatable=False).only(
            "version", "kind", "description", "name", "release"
        ),
        key=lambda m: key_of(m.version),
    )
    prints = [fingerprints(row.schema) for row in rows]

    def between_versions(i: int, j: int) -> dict[str, Any]:
        return compare_with(rows[i].schema, rows[j].schema, prints[i], prints[j])

    hops = [between_versions(i, i + 1)["level"] for i in range(len(rows) - 1)]
    shown = _last_of_each_release(rows) if by_release else list(range(len(rows)))
    pairs = []
    for a, i in enumerate(shown):
        before = rows[i]
        for j in shown[a + 1 :]:
            after = rows[j]
            result = between_versions(i, j)
            between = [
                m
                for m in migrations
                if key_of(before.version) < key_of(m.version) <= key_of(after.version)
            ]
            kinds = {m.kind for m in between}
            pairs.append(
                {
                    "from": _label(before, by_release),
                    "to": _label(after, by_release),
                    "from_version": before.version,
                    "to_version": after.version,
                    "level": result["level"],
                    "transitive": weakest([result["level"], *hops[i:j]]),
                    "hops": j - i,
                    "changes": len(result["changes"]),
                    "breaking": [
                        f"{c['change']} {c['detail']}"
                        for c in result["changes"]
                        if not (c["backward"] and c["forward"])
                    ],
                    "migration": "data"
                    if kinds & {"data", "hybrid"}
                    else ("schema" if between else "none"),
                    "notes": [m.description or m.name for m in between],
                }
            )
    return {
        "database": database,
        "by": "release" if by_release else "version",
        "versions": [
            {
                "version": _label(rows[i], by_release),
                "schema_version": rows[i].version,
                "release": rows[i].release,
                "origin": rows[i].origin,
                "current": rows[i].active,
            }
            for i in shown
        ],
        "pairs": pairs,
    }


def _last_of_each_release(rows: list[SchemaVersion]) -> list[int]:
    """Indexes of each release's last version (in version order); versions of no release
    are kept as they are."""
    shown: list[int] = []
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        if not row.release or following is None or following.release != row.release:
            shown.append(index)
    return shown


def _label(row: SchemaVersion, by_release: bool) -> str:
    return row.release if by_release and row.release else row.version


def matrix_csv(data: dict[str, Any]) -> str:
    """The matrix as CSV: a row per version, a column per version, the level in each cell
    where the row's version upgrades to the column's."""
    versions = [v["version"] for v in data["versions"]]
    levels = {(p["from"], p["to"]): p["level"] for p in data["pairs"]}
    lines = [",".join(["from \\ to", *versions])]
    for row in versions:
        cells = [levels.get((row, column), "") for column in versions]
        lines.append(",".join([row, *cells]))
    return "\n".join(lines) + "\n"
