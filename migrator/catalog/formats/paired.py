"""Paired files: ``<version>_<name>.up.sql`` and an optional ``<version>_<name>.down.sql``."""

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


class PairedFormat(MigrationFormat):
    name = "paired"

    def claim(self, entry: Path) -> Claim | None:
        if not entry.is_file():
            return None
        for role in ("up", "down"):
            suffix = f".{role}.sql"
            if entry.name.endswith(suffix):
                parsed = split_versioned_name(entry.name[: -len(suffix)])
                if parsed:
                    return Claim(self, parsed[0], parsed[1], role, entry)
        return None

    def build(self, claims: list[Claim], database: str) -> MigrationSpec:
        by_role = {c.role: c for c in claims}
        if "up" not in by_role:
            down = by_role["down"]
            raise CatalogError.at(
                down.path, f"a .down.sql without its .up.sql: add {down.version}_{down.name}.up.sql"
            )
        up = by_role["up"]
        down_claim = by_role.get("down")
        if down_claim and down_claim.name != up.name:
            raise CatalogError.at(
                down_claim.path,
                f"name differs from its up file {up.path.name}: rename one of them",
            )
        up_raw, up_text = read_text(up.path)
        parts = [("up", up_raw)]
        down_text = ""
        if down_claim:
            down_raw, down_text = read_text(down_claim.path)
            parts.append(("down", down_raw))
        spec = sql_migration(
            fmt=self.name,
            version=up.version,
            name=up.name,
            database=database,
            source=up.path,
            parts=parts,
            up=up_text,
            down=down_text,
        )
        apply_headers(spec, parse_headers(up.path, up_text.split("\n")), up.path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        up = folder / f"{version}_{name}.up.sql"
        down = folder / f"{version}_{name}.down.sql"
        up.write_text(f"-- Description: \n{TODO_UP}\n")
        down.write_text(f"{TODO_DOWN}\n")
        return [up, down]
