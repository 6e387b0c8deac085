"""``<version>_<name>.sql``: one file, its dialect (markers, dbmate, goose) told by its content."""

from __future__ import annotations

from pathlib import Path

from ..errors import CatalogError
from ..spec import MigrationSpec
from ..versions import split_versioned_name
from . import dbmate, goose, markers
from .base import Claim, MigrationFormat, read_text


class SingleSqlFormat(MigrationFormat):
    name = "single-sql"

    def claim(self, entry: Path) -> Claim | None:
        if not entry.is_file() or entry.suffix != ".sql":
            return None
        parsed = split_versioned_name(entry.stem)
        if parsed is None:
            return None
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], database: str) -> MigrationSpec:
        claim = claims[0]
        _, text = read_text(claim.path)
        for dialect in (dbmate, goose, markers):
            if dialect.sniff(text):
                return dialect.parse(claim.path, claim.version, claim.name, database)
        raise CatalogError.at(
            claim.path,
            "no UP section: start the forward SQL with '-- === UP MIGRATION ===' "
            "(or '-- migrate:up' for dbmate, '-- +goose Up' for goose)",
        )
