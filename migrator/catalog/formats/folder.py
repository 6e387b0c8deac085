"""A folder per migration: ``<version>_<name>/up.sql``, an optional ``down.sql`` and an
optional ``metadata.toml`` (``run_in_transaction = false``): migrator's own and diesel's.

diesel's rules: every folder that is not a dot-folder is a migration and must hold
``up.sql``; its version is the name up to the first ``_`` (``2017-08-31-230457`` and
``2025-11-19-091444-0000`` alike), and an empty ``down.sql`` is a down that does nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import CatalogError
from ..spec import MigrationSpec
from ..versions import split_versioned_name
from .base import (
    TODO_DOWN,
    TODO_UP,
    Claim,
    MigrationFormat,
    ReadContext,
    apply_headers,
    one_per_role,
    parse_headers,
    sql_migration,
)

#: Files of a migration folder that are read, or known and left alone.
_KNOWN = {"up.sql", "down.sql", "metadata.toml"}


class FolderFormat(MigrationFormat):
    name = "folder"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        if not entry.is_dir():
            return None
        if ctx.flavor == "diesel":
            version, _, name = entry.name.partition("_")
            return Claim(self, version, name or entry.name, "main", entry)
        parsed = split_versioned_name(entry.name)
        if parsed is None:
            return None
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        claim = one_per_role(claims)["main"]
        diesel = ctx.flavor == "diesel"
        up_path, down_path = claim.path / "up.sql", claim.path / "down.sql"
        if not up_path.is_file():
            tool = "diesel refuses a migration folder without one" if diesel else "add up.sql"
            raise CatalogError.at(claim.path, f"migration folder without up.sql: {tool}")
        for other in sorted(claim.path.iterdir()):
            if other.name not in _KNOWN and not other.name.startswith((".", "README")):
                ctx.warn(
                    other, "not read: a migration folder holds up.sql, down.sql and metadata.toml"
                )
        up_raw, up_text = ctx.read(up_path)
        parts = [("up", up_raw)]
        down_text = None
        if down_path.is_file():
            down_raw, down_text = ctx.read(down_path)
            parts.append(("down", down_raw))
        transactional = True
        metadata = claim.path / "metadata.toml"
        if metadata.is_file():
            meta_raw, meta_text = ctx.read(metadata)
            parts.append(("metadata", meta_raw))
            transactional = _run_in_transaction(metadata, meta_text, ctx)
        spec = sql_migration(
            fmt="diesel" if diesel else self.name,
            version=claim.version,
            name=claim.name,
            database=ctx.database,
            source=claim.path,
            parts=parts,
            up=up_text,
            down=down_text,
            transactional=transactional,
            # diesel runs whatever up.sql holds; an empty down.sql is its no-op down.
            empty_up_allowed=diesel,
            empty_down_is_noop=diesel,
            vendor=ctx.vendor,
            up_source=up_path,
            down_source=down_path,
        )
        apply_headers(spec, parse_headers(up_text.split("\n")), up_path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        target = folder / f"{version}_{name}"
        target.mkdir()
        (target / "up.sql").write_text(f"-- Description: \n{TODO_UP}\n")
        (target / "down.sql").write_text(f"{TODO_DOWN}\n")
        return [target / "up.sql", target / "down.sql"]


def _run_in_transaction(path: Path, text: str, ctx: ReadContext) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # diesel ignores metadata it cannot parse (and runs the migration in a transaction).
        ctx.warn(path, f"not valid TOML ({exc}): ignored, as diesel does")
        return True
    value = data.get("run_in_transaction", True)
    if not isinstance(value, bool):
        raise CatalogError.at(path, "run_in_transaction must be true or false")
    unknown = sorted(set(data) - {"run_in_transaction"})
    if unknown:
        ctx.warn(path, f"keys migrator does not use: {', '.join(unknown)}")
    return value
