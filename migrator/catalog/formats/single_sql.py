"""``<version>_<name>.sql``: one file whose up and down parts are told by its markers:
migrator's own, dbmate's or goose's (:mod:`.sections`). A file mixing two tools' markers
is refused."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CatalogError
from ..spec import MigrationSpec
from ..versions import split_versioned_name
from . import sections
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

#: The markers each folder flavor reads in single SQL files.
_ALLOWED = {
    "migrator": (sections.MARKERS, sections.DBMATE, sections.GOOSE),
    "dbmate": (sections.DBMATE,),
    "goose": (sections.GOOSE,),
}
_DIGITS_ONLY = {"dbmate", "goose"}
#: dbmate's own pattern (``migrationFileRegexp``): the leading digits are the version,
#: whatever follows them (``20151129054053_add_users.sql``, ``001-add-users.sql``).
DBMATE_FILE = re.compile(r"^(?P<version>\d+)(?P<rest>.*)\.sql$")
#: sql-migrate's marker (a tool migrator does not read), to say so when a file has it.
_SQL_MIGRATE = re.compile(r"^-- \+migrate (?:Up|Down)\b", re.MULTILINE)
_HINT = {
    sections.MARKERS: "'-- === UP MIGRATION ==='",
    sections.DBMATE: "'-- migrate:up'",
    sections.GOOSE: "'-- +goose Up'",
}


class SingleSqlFormat(MigrationFormat):
    name = "single-sql"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        if entry.suffix != ".sql" or not entry.is_file():
            return None
        if ctx.flavor == "dbmate":
            match = DBMATE_FILE.match(entry.name)
            if match is None:
                return None
            name = match["rest"].lstrip("_-. ") or match["version"]
            return Claim(self, match["version"], name, "main", entry)
        parsed = split_versioned_name(entry.stem)
        if parsed is None:
            return None
        if ctx.flavor in _DIGITS_ONLY and not parsed[0].isdigit():
            return None
        if ctx.flavor == sections.GOOSE:
            _check_goose_version(entry, parsed[0])
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        claim = one_per_role(claims)["main"]
        raw, text = ctx.read(claim.path)
        allowed = _ALLOWED.get(ctx.flavor, _ALLOWED["migrator"])
        found = [d for d in sections.dialects_in(text) if d in allowed]
        if len(found) > 1:
            raise CatalogError.at(
                claim.path,
                f"mixes the markers of {' and '.join(found)}: use one tool's markers per file",
            )
        if not found:
            expected = " or ".join(_HINT[d] for d in allowed)
            other = _SQL_MIGRATE.search(text)
            raise CatalogError.at(
                claim.path,
                f"no UP section: start the forward SQL with {expected}"
                + (
                    "; its '-- +migrate Up' is sql-migrate's, which migrator does not read "
                    "(goose's markers are the same: '-- +goose Up', '-- +goose Down', "
                    "'-- +goose StatementBegin', '-- +goose NO TRANSACTION')"
                    if other
                    else ""
                ),
                text.count("\n", 0, other.start()) + 1 if other else None,
            )
        dialect = found[0]
        parts = sections.PARSERS[dialect](claim.path, text)
        for line, note in parts.notes:
            ctx.warn(claim.path, note, line)
        if ctx.flavor == sections.DBMATE and parts.down is None:
            raise CatalogError.at(
                claim.path,
                "no '-- migrate:down' section: dbmate requires one (an empty one does nothing)",
            )
        native = dialect == sections.MARKERS
        spec = sql_migration(
            fmt="sql" if native else dialect,
            version=claim.version,
            name=claim.name,
            database=ctx.database,
            source=claim.path,
            parts=[("main", raw)],
            up=parts.up,
            down=parts.down,
            transactional=parts.up_transaction,
            down_transactional=parts.down_transaction,
            # In a dbmate or goose folder, an up part of comments only is a deliberate no-op
            # and an empty down part does nothing, as those tools read them; migrator's own
            # folders refuse an unfilled scaffold and read an empty down part as no way back.
            empty_up_allowed=ctx.flavor == dialect,
            empty_down_is_noop=ctx.flavor == dialect,
            vendor=ctx.vendor,
        )
        apply_headers(spec, parse_headers(text.split("\n")), claim.path)
        return spec


class MarkerSqlFormat(MigrationFormat):
    """Scaffolding for migrator's own markers; reading goes through SingleSqlFormat."""

    name = "sql"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        return None

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(
            f"-- Migration: {version}_{name}\n-- Description: \n-- Author: \n\n"
            f"-- === UP MIGRATION ===\n{TODO_UP}\n\n-- === DOWN MIGRATION ===\n{TODO_DOWN}\n"
        )
        return [path]


class DbmateFormat(MarkerSqlFormat):
    name = "dbmate"

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(f"-- migrate:up\n{TODO_UP}\n\n-- migrate:down\n{TODO_DOWN}\n")
        return [path]


class GooseFormat(MarkerSqlFormat):
    name = "goose"

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(
            f"-- +goose Up\n-- +goose StatementBegin\n{TODO_UP}\n-- +goose StatementEnd\n\n"
            f"-- +goose Down\n-- +goose StatementBegin\n{TODO_DOWN}\n-- +goose StatementEnd\n"
        )
        return [path]


class GoGooseFormat(MigrationFormat):
    """goose's Go migrations (``<version>_<name>.go``): listed, never run by migrator."""

    name = "goose-go"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        if entry.suffix != ".go" or entry.name.endswith("_test.go") or not entry.is_file():
            return None
        parsed = split_versioned_name(entry.stem)
        if parsed is None or not parsed[0].isdigit():
            return None
        _check_goose_version(entry, parsed[0])
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        claim = one_per_role(claims)["main"]
        raw, _ = ctx.read(claim.path)
        return MigrationSpec(
            version=claim.version,
            name=claim.name,
            database=ctx.database,
            format="goose-go",
            source=claim.path,
            parts=[("main", raw)],
            steps=[],
            unsupported="a goose Go migration: migrator cannot run Go code",
        )


def _check_goose_version(path: Path, version: str) -> None:
    if int(version) <= 0:
        raise CatalogError.at(
            path, "goose refuses version 0 (migration IDs must be greater than zero): renumber it"
        )
