"""A folder per migration: ``<version>_<name>/up.sql`` with an optional ``down.sql``."""

from __future__ import annotations

from pathlib import Path

from ..errors import CatalogError
from ..spec import MigrationSpec
from ..versions import split_versioned_name
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


class FolderFormat(MigrationFormat):
    name = "folder"

    def claim(self, entry: Path) -> Claim | None:
        if not entry.is_dir() or entry.name.startswith((".", "__")):
            return None
        parsed = split_versioned_name(entry.name)
        if parsed is None:
            return None
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], database: str) -> MigrationSpec:
        claim = claims[0]
        up_path, down_path = claim.path / "up.sql", claim.path / "down.sql"
        if not up_path.is_file():
            raise CatalogError.at(claim.path, "migration folder without up.sql: add up.sql")
        up_raw, up_text = read_text(up_path)
        parts = [("up", up_raw)]
        down_text = ""
        if down_path.is_file():
            down_raw, down_text = read_text(down_path)
            parts.append(("down", down_raw))
        spec = sql_migration(
            fmt=self.name,
            version=claim.version,
            name=claim.name,
            database=database,
            source=claim.path,
            parts=parts,
            up=up_text,
            down=down_text,
        )
        apply_headers(spec, parse_headers(up_path, up_text.split("\n")), up_path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        target = folder / f"{version}_{name}"
        target.mkdir()
        (target / "up.sql").write_text(f"-- Description: \n{TODO_UP}\n")
        (target / "down.sql").write_text(f"{TODO_DOWN}\n")
        return [target / "up.sql", target / "down.sql"]
