"""Flyway files: ``V<version>__<description>.sql`` and optional ``U<version>__<description>.sql``.

Underscores inside the version stand for dots (``V1_2__x.sql`` is version 1.2), as in Flyway.
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

_NAME = re.compile(r"^(?P<prefix>[VUR])(?P<version>[0-9][0-9._]*)?__(?P<desc>.+)\.sql$")


class FlywayFormat(MigrationFormat):
    name = "flyway"

    def claim(self, entry: Path) -> Claim | None:
        if not entry.is_file():
            return None
        match = _NAME.match(entry.name)
        if not match:
            return None
        if match.group("prefix") == "R" or not match.group("version"):
            raise CatalogError.at(
                entry, "repeatable Flyway migrations (R__) are not supported: give it a version"
            )
        version = match.group("version").replace("_", ".").strip(".")
        role = "main" if match.group("prefix") == "V" else "undo"
        return Claim(self, version, match.group("desc"), role, entry)

    def build(self, claims: list[Claim], database: str) -> MigrationSpec:
        by_role = {c.role: c for c in claims}
        if "main" not in by_role:
            undo = by_role["undo"]
            raise CatalogError.at(undo.path, f"an undo file without V{undo.version}__*.sql")
        main = by_role["main"]
        raw, text = read_text(main.path)
        parts = [("up", raw)]
        down = ""
        if "undo" in by_role:
            undo_raw, down = read_text(by_role["undo"].path)
            parts.append(("down", undo_raw))
        spec = sql_migration(
            fmt=self.name,
            version=main.version,
            name=main.name,
            database=database,
            source=main.path,
            parts=parts,
            up=text,
            down=down,
        )
        spec.description = spec.description or main.name.replace("_", " ")
        apply_headers(spec, parse_headers(main.path, text.split("\n")), main.path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        flyway_version = version.replace(".", "_")
        main = folder / f"V{flyway_version}__{name}.sql"
        undo = folder / f"U{flyway_version}__{name}.sql"
        main.write_text(f"-- Description: \n{TODO_UP}\n")
        undo.write_text(f"{TODO_DOWN}\n")
        return [main, undo]
