"""Where a folder's own tool would apply its migrations in another order than migrator.

migrator applies a database's migrations in version order (numbers compared as numbers,
dates as dates whatever their width: :mod:`migrator.catalog.versions`). dbmate and Atlas
sort the file names as text, diesel its versions as text with the dashes taken out; goose
and golang-migrate compare versions as one integer, Flyway part by part. The orders agree
while the versions have one width (timestamps, zero-padded counters) and differ once they
do not: ``100000022_a.sql`` runs after ``10000000000000_b.sql`` in dbmate, before it here;
goose runs ``20190227_a`` before ``20190226002946_b``, migrator after it (a day after the
other's timestamp). migrator cannot follow both, so such a folder gets a warning naming
the first pair that changes places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import CatalogProblem
from .spec import MigrationSpec
from .versions import key_of


def _integer(spec: MigrationSpec) -> int:
    return int(spec.version)


def _parts(spec: MigrationSpec) -> tuple[int, ...]:
    return tuple(int(part) for part in spec.version.split("."))


#: The tool's own sort key, by flavor, and how to say what it compares.
_TOOL_ORDER: dict[str, tuple[Callable[[MigrationSpec], Any], str]] = {
    "dbmate": (lambda spec: spec.source.name, "its file names, as text"),
    "atlas": (lambda spec: spec.source.name, "its file names, as text"),
    "diesel": (lambda spec: spec.version.replace("-", ""), "versions as text, dashes removed"),
    "goose": (_integer, "versions as one number"),
    "golang-migrate": (_integer, "versions as one number"),
    "flyway": (_parts, "versions part by part, as numbers"),
}


def order_problems(flavor: str, tool: str, specs: list[MigrationSpec]) -> list[CatalogProblem]:
    """A warning if ``tool`` would apply the versioned ``specs`` in another order than
    migrator (empty when the orders agree or the tool orders by version as well)."""
    if flavor not in _TOOL_ORDER:
        return []
    tool_key, compared = _TOOL_ORDER[flavor]
    versioned = [spec for spec in specs if not spec.repeatable and not spec.callback]
    ours = sorted(versioned, key=lambda spec: key_of(spec.version))
    try:
        theirs = sorted(versioned, key=tool_key)
    except ValueError:  # a version the tool would not read: reported by the reader
        return []
    moved = sum(a is not b for a, b in zip(ours, theirs, strict=True))
    if not moved:
        return []
    first = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a is not b)
    ours_first, theirs_first = ours[first], theirs[first]
    return [
        CatalogProblem(
            str(ours_first.source),
            f"{tool} applies {theirs_first.source.name} before this one (it sorts "
            f"{compared}); migrator applies migrations in version order, {ours_first.version} "
            f"before {theirs_first.version} ({moved} migrations take other places): give the "
            "versions the same number of digits (zeros before a counter, after a date) so that "
            "both orders agree",
        )
    ]


__all__ = ["order_problems"]
