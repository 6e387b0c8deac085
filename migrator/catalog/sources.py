"""Where migrations live: each installed app's folder and the ``MIGRATOR["DIRS"]`` entries.

A ``DIRS`` entry is a path, or a dict::

    {"path": ..., "database": alias, "format": "flyway", "foreign_keys": False}

``format`` names the tool whose rules the folder follows (see :mod:`.flavors`); without it
the folder's files tell. ``foreign_keys: False`` runs every migration of the folder with
foreign keys off (SQLite's table-rebuild pattern needs it). ``mixed: True`` is Flyway's
``mixed``: a script mixing statements that cannot run in a transaction with others runs
outside one instead of being refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connections

from ..conf import migrator_settings
from .errors import CatalogProblem

_KEYS = {
    "path",
    "database",
    "format",
    "foreign_keys",
    "placeholders",
    "placeholder_replacement",
    "mixed",
}


@dataclass(frozen=True)
class Source:
    """A folder of migrations and the database alias they target."""

    path: Path
    database: str
    origin: str  # what configured it, for messages: "app sample" or "MIGRATOR['DIRS'][0]"
    #: The tool whose rules the folder follows, when the settings say so.
    format: str | None = None
    #: False: every migration of the folder runs with foreign keys off.
    foreign_keys: bool = True
    #: Flyway placeholders (``${name}``) and their values, as sorted pairs.
    placeholders: tuple[tuple[str, str], ...] = ()
    #: False: Flyway scripts' ``${...}`` left as written (Flyway's placeholderReplacement).
    placeholder_replacement: bool = True
    #: Flyway's ``mixed``: a script mixing non-transactional statements with others runs
    #: outside a transaction (refused otherwise, as Flyway refuses it).
    mixed: bool = False


def _resolve(path: str | Path) -> Path:
    candidate = Path(path)
    if not candidate.is_absolute():
        base = getattr(settings, "BASE_DIR", None)
        candidate = Path(base) / candidate if base else candidate.resolve()
    return candidate


def configured_sources() -> tuple[list[Source], list[CatalogProblem]]:
    """Every folder to read, and the problems with the configuration itself."""
    from .flavors import FLAVORS

    problems: list[CatalogProblem] = []
    found: list[Source] = []
    default_db = migrator_settings.DEFAULT_DATABASE
    for config in apps.get_app_configs():
        folder = Path(config.path) / migrator_settings.APP_DIRNAME
        if folder.is_dir():
            found.append(Source(folder, default_db, f"app {config.label}"))
    for index, entry in enumerate(migrator_settings.DIRS):
        origin = f"MIGRATOR['DIRS'][{index}]"
        database, fmt, foreign_keys = default_db, None, True
        placeholders: tuple[tuple[str, str], ...] = ()
        replacement, mixed = True, False
        if isinstance(entry, dict):
            if "path" not in entry:
                problems.append(CatalogProblem(origin, 'a dict entry needs a "path" key'))
                continue
            unknown = set(entry) - _KEYS
            if unknown:
                problems.append(
                    CatalogProblem(
                        origin, f"unknown keys {sorted(unknown)}: use {', '.join(sorted(_KEYS))}"
                    )
                )
                continue
            database = str(entry.get("database", default_db))
            fmt = entry.get("format")
            if fmt is not None and fmt not in FLAVORS:
                problems.append(
                    CatalogProblem(
                        origin, f"unknown format {fmt!r}: use one of {', '.join(sorted(FLAVORS))}"
                    )
                )
                continue
            foreign_keys = entry.get("foreign_keys", True)
            if not isinstance(foreign_keys, bool):
                problems.append(CatalogProblem(origin, '"foreign_keys" must be True or False'))
                continue
            given = entry.get("placeholders", {})
            if not isinstance(given, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in given.items()
            ):
                problems.append(
                    CatalogProblem(origin, '"placeholders" must be a dict of names to strings')
                )
                continue
            placeholders = tuple(sorted(given.items()))
            replacement = entry.get("placeholder_replacement", True)
            if not isinstance(replacement, bool):
                problems.append(
                    CatalogProblem(origin, '"placeholder_replacement" must be True or False')
                )
                continue
            mixed = entry.get("mixed", False)
            if not isinstance(mixed, bool):
                problems.append(CatalogProblem(origin, '"mixed" must be True or False'))
                continue
            raw_path = entry["path"]
        elif isinstance(entry, str | Path):
            raw_path = entry
        else:
            problems.append(
                CatalogProblem(origin, "must be a path or {'path': ..., 'database': ...}")
            )
            continue
        path = _resolve(raw_path)
        if database not in connections.databases:
            problems.append(
                CatalogProblem(
                    origin,
                    f"unknown database alias {database!r}: use one of {sorted(connections.databases)}",
                )
            )
            continue
        if not path.is_dir():
            problems.append(
                CatalogProblem(origin, f"folder {path} does not exist: create it or fix the path")
            )
            continue
        found.append(
            Source(path, database, origin, fmt, foreign_keys, placeholders, replacement, mixed)
        )
    if default_db not in connections.databases:
        problems.append(
            CatalogProblem(
                "MIGRATOR['DEFAULT_DATABASE']",
                f"unknown database alias {default_db!r}: use one of {sorted(connections.databases)}",
            )
        )
    unique: dict[Path, Source] = {}
    for source in found:
        unique.setdefault(source.path.resolve(), source)
    return list(unique.values()), problems
