"""Reading the whole catalog: claim entries, build migrations, then check them as a set."""

from __future__ import annotations

import graphlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CatalogError, CatalogProblem
from .formats import FORMATS, Claim
from .sources import Source, configured_sources
from .spec import MigrationSpec
from .versions import key_of


@dataclass
class Catalog:
    """Every migration on disk, by database alias, in natural version order."""

    migrations: dict[str, list[MigrationSpec]] = field(default_factory=dict)
    warnings: list[CatalogProblem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    _index: dict[tuple[str, Any], MigrationSpec] | None = field(default=None, repr=False)

    def for_database(self, database: str) -> list[MigrationSpec]:
        return self.migrations.get(database, [])

    def get(self, database: str, version: str) -> MigrationSpec | None:
        """The migration with this version (compared naturally: 010 is 10), or None."""
        if self._index is None:
            self._index = {
                (s.database, key_of(s.version)): s
                for specs in self.migrations.values()
                for s in specs
            }
        return self._index.get((database, key_of(version)))

    @property
    def databases(self) -> list[str]:
        return sorted(self.migrations)


def _claim(entry: Path) -> Claim | None:
    for fmt in FORMATS:
        claim = fmt.claim(entry)
        if claim is not None:
            return claim
    return None


def _read_source(source: Source, problems: list[CatalogProblem]) -> list[MigrationSpec]:
    groups: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for entry in sorted(source.path.iterdir()):
        if entry.name.startswith((".", "__")):
            continue
        try:
            claim = _claim(entry)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if claim is None:
            if entry.is_file() and entry.suffix in (".sql", ".py"):
                problems.append(
                    CatalogProblem(
                        str(entry),
                        "no version in the file name: name it <version>_<name>"
                        f"{''.join(entry.suffixes)} (e.g. 0001_create_users{entry.suffix})",
                    )
                )
            continue
        groups[(claim.format.name, claim.version)].append(claim)
    specs: list[MigrationSpec] = []
    for (_, _), claims in groups.items():
        try:
            specs.append(claims[0].format.build(claims, source.database))
        except CatalogError as exc:
            problems.extend(exc.problems)
    return specs


def _check_duplicates(specs: list[MigrationSpec], problems: list[CatalogProblem]) -> None:
    seen: dict[object, MigrationSpec] = {}
    for spec in specs:
        key = key_of(spec.version)
        if key in seen:
            other = seen[key]
            problems.append(
                CatalogProblem(
                    str(spec.source),
                    f"version {spec.version} of database {spec.database!r} is also declared by "
                    f"{other.source}: give one of them another version",
                )
            )
        else:
            seen[key] = spec


def _resolve_dependencies(specs: list[MigrationSpec], problems: list[CatalogProblem]) -> None:
    """Default each dependency to the previous version; reject unknown, cyclic or later ones."""
    by_key = {key_of(s.version): s for s in specs}
    previous: MigrationSpec | None = None
    for spec in specs:
        if spec.depends_on is None:
            spec.depends_on = [previous.version] if previous else []
        previous = spec
    graph: dict[str, list[str]] = {}
    for spec in specs:
        resolved = []
        for dependency in spec.depends_on or []:
            target = by_key.get(key_of(dependency))
            if target is None:
                problems.append(
                    CatalogProblem(
                        str(spec.source),
                        f"depends on version {dependency}, which database {spec.database!r} "
                        "does not have",
                        spec.line,
                    )
                )
                continue
            resolved.append(target.version)
        spec.depends_on = resolved
        graph[spec.version] = resolved
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        sources = {s.version: s.source for s in specs}
        problems.append(
            CatalogProblem(
                str(sources[cycle[0]]),
                "dependency cycle: " + " -> ".join(cycle) + "; remove one of these depends_on",
            )
        )
        return
    for spec in specs:
        for dependency in spec.depends_on or []:
            if key_of(dependency) > key_of(spec.version):
                problems.append(
                    CatalogProblem(
                        str(spec.source),
                        f"depends on the later version {dependency}: migrations run in version "
                        "order, so give this one a version after it",
                        spec.line,
                    )
                )


def load_catalog() -> Catalog:
    """Read every configured folder. Raise :class:`CatalogError` listing all problems found."""
    sources, problems = configured_sources()
    by_database: dict[str, list[MigrationSpec]] = defaultdict(list)
    for source in sources:
        by_database[source.database].extend(_read_source(source, problems))
    catalog = Catalog(sources=sources)
    for database, specs in by_database.items():
        specs.sort(key=lambda s: key_of(s.version))
        _check_duplicates(specs, problems)
        _resolve_dependencies(specs, problems)
        catalog.migrations[database] = specs
        for spec in specs:
            if not spec.reversible:
                catalog.warnings.append(
                    CatalogProblem(str(spec.source), "irreversible: it has no down part")
                )
    if problems:
        raise CatalogError(problems)
    return catalog
