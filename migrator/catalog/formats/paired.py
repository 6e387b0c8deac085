"""Paired files: ``<version>_<name>.up.<ext>`` and an optional ``<version>_<name>.down.<ext>``.

golang-migrate's own pattern, ``^([0-9]+)_(.*)\\.(down|up)\\.(.*)$``: so
``30_ignore_autotag.up..sql`` is version 30's up file. In a golang-migrate folder an up file
of comments only is a deliberate no-op, an empty down file does nothing, statements that
cannot run in a transaction run outside one, and a file in another language than SQL is
listed as unsupported. migrator's own folders also allow dotted versions (``1.3.0_x.up.sql``).
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
    ReadContext,
    apply_headers,
    detect_transaction,
    one_per_role,
    parse_headers,
    sql_migration,
)

GOLANG_MIGRATE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.*)\.(?P<role>down|up)\.(?P<ext>.*)$")
NATIVE = re.compile(r"^(?P<version>\d+(?:\.\d+)*)_(?P<name>.+)\.(?P<role>down|up)\.(?P<ext>.*sql)$")


class PairedFormat(MigrationFormat):
    name = "paired"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        pattern = GOLANG_MIGRATE if ctx.flavor == "golang-migrate" else NATIVE
        match = pattern.match(entry.name)
        if match is None or not entry.is_file():
            return None
        return Claim(self, match["version"], match["name"], match["role"], entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        by_role = one_per_role(claims)
        golang = ctx.flavor == "golang-migrate"
        if "up" not in by_role:
            down = by_role["down"]
            raise CatalogError.at(
                down.path, f"a down file without its up file: add {down.version}_{down.name}.up.sql"
            )
        up = by_role["up"]
        down_claim = by_role.get("down")
        if down_claim and down_claim.name != up.name and not golang:
            raise CatalogError.at(
                down_claim.path,
                f"name differs from its up file {up.path.name}: rename one of them",
            )
        extension = up.path.name.rsplit(".", 1)[-1]
        up_raw, up_text = ctx.read(up.path)
        parts = [("up", up_raw)]
        down_text = None
        if down_claim:
            down_raw, down_text = ctx.read(down_claim.path)
            parts.append(("down", down_raw))
        if not extension.lower().endswith("sql"):
            return MigrationSpec(
                version=up.version,
                name=up.name,
                database=ctx.database,
                format=self.name,
                source=up.path,
                parts=parts,
                steps=[],
                unsupported=f"a .{extension} migration: migrator runs SQL only",
            )
        transactional = True
        if golang:
            transactional = (
                detect_transaction(up.path, up_text, ctx.vendor, "golang-migrate") is None
            )
        spec = sql_migration(
            fmt=self.name,
            version=up.version,
            name=up.name,
            database=ctx.database,
            source=up.path,
            parts=parts,
            up=up_text,
            down=down_text,
            transactional=transactional,
            down_transactional=_down_transaction(down_claim, down_text, ctx) if golang else None,
            empty_up_allowed=golang,
            empty_down_is_noop=golang,
            vendor=ctx.vendor,
            down_source=down_claim.path if down_claim else None,
        )
        apply_headers(spec, parse_headers(up_text.split("\n")), up.path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        up = folder / f"{version}_{name}.up.sql"
        down = folder / f"{version}_{name}.down.sql"
        up.write_text(f"-- Description: \n{TODO_UP}\n")
        down.write_text(f"{TODO_DOWN}\n")
        return [up, down]


def _down_transaction(claim: Claim | None, text: str | None, ctx: ReadContext) -> bool | None:
    if claim is None or text is None:
        return None
    return detect_transaction(claim.path, text, ctx.vendor, "golang-migrate") is None
