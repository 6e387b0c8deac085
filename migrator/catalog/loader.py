"""Reading the whole catalog: walk each folder, let its flavor's readers claim entries,
build migrations, check them as a set (versions, dependencies, limits), and report every
entry that is neither read nor a known companion.

A catalog with errors raises :class:`CatalogError` listing all of them; warnings (what the
folder's own tool would ignore) travel with the catalog, or are errors with ``STRICT``.
"""

from __future__ import annotations

import graphlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connections

from ..conf import migrator_settings
from . import reuse
from .errors import CatalogError, CatalogProblem
from .flavors import ERROR, detect
from .formats import atlas
from .formats.base import Claim, ReadContext
from .limits import problems_of
from .scan import entries
from .sources import Source, configured_sources
from .spec import MigrationSpec
from .tool_order import order_problems
from .versions import key_of


@dataclass
class Catalog:
    """Every migration on disk, by database alias, in order (repeatables last)."""

    migrations: dict[str, list[MigrationSpec]] = field(default_factory=dict)
    warnings: list[CatalogProblem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    #: Each folder's flavor (the tool whose rules it follows), by path.
    flavors: dict[str, str] = field(default_factory=dict)
    _index: dict[tuple[str, Any], MigrationSpec] | None = field(default=None, repr=False)

    def for_database(self, database: str) -> list[MigrationSpec]:
        return self.migrations.get(database, [])

    def get(self, database: str, version: str) -> MigrationSpec | None:
        """The migration with this version (compared as versions: 010 is 10), or None."""
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


def _vendor(alias: str) -> str:
    try:
        return str(connections[alias].vendor)
    except Exception:  # noqa: BLE001 - a misconfigured alias is reported by the checks
        return ""


def _read_source(
    source: Source,
    problems: list[CatalogProblem],
    warnings: list[CatalogProblem],
    flavors: dict[str, str],
) -> list[MigrationSpec]:
    """The folder's migrations: kept from the last read if nothing in it changed (see
    :mod:`migrator.catalog.reuse`), else read."""
    ctx = ReadContext(
        database=source.database,
        vendor=_vendor(source.database),
        placeholders=dict(source.placeholders) if source.placeholder_replacement else None,
        mixed=source.mixed,
    )
    key = (
        source.path,
        source.database,
        source.format,
        source.foreign_keys,
        source.placeholders,
        source.placeholder_replacement,
        source.mixed,
        ctx.vendor,
    )
    reusing = bool(migrator_settings.CATALOG_REUSE)
    kept = reuse.lookup(key) if reusing else None
    if kept is not None:
        flavors[str(source.path)] = kept.flavor
        warnings.extend(kept.warnings)
        return kept.fresh_specs()
    started = reuse.now_ns()
    found: list[CatalogProblem] = []
    noticed: list[CatalogProblem] = []
    walked: list[Path] = []
    specs, paths, reusable = _read_folder(source, ctx, found, noticed, walked)
    flavors[str(source.path)] = ctx.flavor
    problems.extend(found)
    warnings.extend(noticed)
    if reusing and reusable and not found:
        reuse.keep(
            key,
            started_ns=started,
            read_from=[*walked, *paths, *ctx.touched],
            specs=specs,
            warnings=noticed,
            flavor=ctx.flavor,
        )
    return specs


def _read_folder(
    source: Source,
    ctx: ReadContext,
    problems: list[CatalogProblem],
    warnings: list[CatalogProblem],
    walked: list[Path],
) -> tuple[list[MigrationSpec], list[Path], bool]:
    """Read the folder: its migrations, the entries found, and whether they may be kept
    (no format that imports code)."""
    top = entries(source.path, problems, walked=walked)
    flavor = detect(source.format, top, ctx, source.path)
    ctx.flavor = flavor.name
    paths = (
        entries(source.path, problems, descend=lambda _: True, walked=walked)
        if flavor.recursive
        else top
    )
    groups: dict[tuple[str, Any], list[Claim]] = defaultdict(list)
    for path in paths:
        claim = None
        try:
            for fmt in flavor.formats:
                claim = fmt.claim(path, ctx)
                if claim is not None:
                    break
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if claim is None:
            level, message = flavor.unclaimed(path)
            (problems if level == ERROR else warnings).append(CatalogProblem(str(path), message))
            continue
        groups[(claim.format.name, key_of(claim.version))].append(claim)
    specs: list[MigrationSpec] = []
    for claims in groups.values():
        try:
            spec = claims[0].format.build(claims, ctx)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if not source.foreign_keys:
            spec.options["foreign_keys"] = False
        found = problems_of(spec)
        if found:
            problems.extend(found)
            continue
        specs.append(spec)
    if flavor.name == "atlas":
        problems.extend(atlas.sum_problems(source.path, ctx))
    warnings.extend(ctx.warnings)
    warnings.extend(order_problems(flavor.name, flavor.tool, specs))
    reusable = all(claims[0].format.reusable for claims in groups.values())
    return specs, paths, reusable


def _check_duplicates(specs: list[MigrationSpec], problems: list[CatalogProblem]) -> bool:
    """Two migrations of one version (in any formats) is an error naming both."""
    seen: dict[object, MigrationSpec] = {}
    clean = True
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
            clean = False
        else:
            seen[key] = spec
    return clean


def _resolve_dependencies(specs: list[MigrationSpec], problems: list[CatalogProblem]) -> None:
    """Default each dependency to the previous version; reject unknown, cyclic or later ones."""
    by_key = {key_of(s.version): s for s in specs}
    previous: MigrationSpec | None = None
    for spec in specs:
        if spec.depends_on is None:
            spec.depends_on = [previous.version] if previous and not spec.repeatable else []
        if not spec.repeatable:
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
            if key_of(dependency) > key_of(spec.version) and not spec.repeatable:
                problems.append(
                    CatalogProblem(
                        str(spec.source),
                        f"depends on the later version {dependency}: migrations run in version "
                        "order, so give this one a version after it",
                        spec.line,
                    )
                )


def order_key(spec: MigrationSpec) -> tuple[bool, Any]:
    """Versioned migrations in version order, then repeatable ones (by description)."""
    return (spec.repeatable, key_of(spec.version))


def load_catalog(sources: list[Source] | None = None) -> Catalog:
    """Read every configured folder (or ``sources``). Raise :class:`CatalogError` listing
    all problems found."""
    if sources is None:
        sources, problems = configured_sources()
    else:
        problems = []
    warnings: list[CatalogProblem] = []
    flavors: dict[str, str] = {}
    by_database: dict[str, list[MigrationSpec]] = defaultdict(list)
    for source in sources:
        by_database[source.database].extend(_read_source(source, problems, warnings, flavors))
    catalog = Catalog(sources=sources, flavors=flavors)
    for database, specs in by_database.items():
        specs.sort(key=order_key)
        if _check_duplicates(specs, problems):
            _resolve_dependencies(specs, problems)
        catalog.migrations[database] = specs
        for spec in specs:
            # A callback is never taken back: nothing to warn about.
            if not spec.reversible and not spec.unsupported and not spec.callback:
                warnings.append(
                    CatalogProblem(str(spec.source), "irreversible: it has no down part")
                )
    if migrator_settings.STRICT:
        problems.extend(
            CatalogProblem(w.path, f"{w.message} (STRICT)", w.line)
            for w in warnings
            if not w.message.startswith("irreversible")
        )
    if problems:
        raise CatalogError(problems)
    catalog.warnings = warnings
    return catalog


__all__ = ["Catalog", "load_catalog", "order_key"]
