"""One SQL file with ``-- === UP MIGRATION ===`` and ``-- === DOWN MIGRATION ===`` sections.

Optional header comments before the UP marker: ``-- Migration:``, ``-- Description:``,
``-- Author:``, ``-- Date:`` (and ``Depends-On``, ``Kind``, ``Release``, ``Risk``,
``Requires-Downtime``, ``Transaction``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CatalogError
from ..spec import MigrationSpec
from .base import (
    TODO_DOWN,
    TODO_UP,
    Claim,
    MigrationFormat,
    apply_headers,
    parse_headers,
    read_text,
    sql_migration,
)

_MARKER = re.compile(r"^--\s*===\s*(?P<word>.*?)\s*===\s*$")
UP, DOWN = "UP MIGRATION", "DOWN MIGRATION"


def sniff(text: str) -> bool:
    return any(_MARKER.match(line.strip()) for line in text.split("\n"))


def parse(path: Path, version: str, name: str, database: str) -> MigrationSpec:
    raw, text = read_text(path)
    lines = text.split("\n")
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(lines, start=1):
        match = _MARKER.match(line.strip())
        if match:
            word = match.group("word").upper()
            if word not in (UP, DOWN):
                raise CatalogError.at(
                    path,
                    f"unknown marker {line.strip()!r}: expected '-- === {UP} ===' "
                    f"or '-- === {DOWN} ==='",
                    number,
                )
            if word in sections:
                raise CatalogError.at(path, f"a second '-- === {word} ===' marker", number)
            if word == DOWN and UP not in sections:
                raise CatalogError.at(
                    path,
                    f"'-- === {DOWN} ===' comes before '-- === {UP} ===': put UP first",
                    number,
                )
            current = word
            sections[word] = []
            continue
        if current is None:
            if line.strip() and not line.strip().startswith("--"):
                raise CatalogError.at(
                    path,
                    f"SQL before the '-- === {UP} ===' marker: move it below the marker",
                    number,
                )
            continue
        sections[current].append(line)
    if UP not in sections:
        raise CatalogError.at(path, f"no '-- === {UP} ===' section: add one above the forward SQL")
    spec = sql_migration(
        fmt="sql",
        version=version,
        name=name,
        database=database,
        source=path,
        parts=[("main", raw)],
        up="\n".join(sections[UP]),
        down="\n".join(sections.get(DOWN, [])),
    )
    apply_headers(spec, parse_headers(path, lines), path)
    return spec


class MarkerSqlFormat(MigrationFormat):
    """Scaffolding for the marker format; reading goes through :mod:`.single_sql`."""

    name = "sql"

    def claim(self, entry: Path) -> Claim | None:
        return None

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(
            f"-- Migration: {version}_{name}\n-- Description: \n-- Author: \n\n"
            f"-- === {UP} ===\n{TODO_UP}\n\n-- === {DOWN} ===\n{TODO_DOWN}\n"
        )
        return [path]
