"""Flyway scripts: ``V<version>__<description>.sql``, ``U<version>__...`` (undo) and
``R__<description>.sql`` (repeatable), with optional ``<script>.sql.conf`` script configs.

As Flyway reads them: underscores in a version stand for dots (``V1_1__x.sql`` is 1.1); a
repeatable runs after the versioned ones, and again whenever its content changes; a script
whose statements cannot run in a transaction (``CREATE INDEX CONCURRENTLY``, ``VACUUM``)
runs outside one, and one mixing both kinds is refused; ``executeInTransaction=false`` in
its ``.sql.conf`` says the same; placeholders (``${name}``) are replaced
(:mod:`.placeholders`). The SQL callbacks of ``migrate`` (``beforeMigrate``,
``afterVersioned``, ``beforeRepeatables``, ``afterMigrate``, ``afterMigrateApplied``, each
optionally ``__<description>``) run at their point of a deployment. Java migrations
(``V2__Seed.java``) are listed as unsupported: migrator cannot run them.
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
from .placeholders import replace_placeholders

_SCRIPT = re.compile(
    r"^(?P<prefix>[VUR])(?P<version>[0-9][0-9._]*)?__(?P<desc>.*?)(?P<ext>\.sql|\.java|\.kt|\.class)$"
)
_ROLES = {"V": "main", "U": "undo", "R": "main"}
#: The SQL callbacks of ``flyway migrate`` that migrator runs (``afterMigrate.sql``,
#: ``afterMigrate__grants.sql``), in the order Flyway fires their events. Those of other
#: events (each migration, errors, other commands) are reported as not run.
CALLBACK_EVENTS = (
    "beforeMigrate",
    "afterVersioned",
    "beforeRepeatables",
    "afterMigrate",
    "afterMigrateApplied",
)
_CALLBACK = re.compile(rf"^(?P<event>{'|'.join(CALLBACK_EVENTS)})(?:__(?P<desc>.*))?\.sql$")


def flyway_version(raw: str) -> str:
    return raw.replace("_", ".").strip(".")


class FlywayFormat(MigrationFormat):
    name = "flyway"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        callback = _CALLBACK.match(entry.name)
        if callback is not None and entry.is_file():
            # Its version is its file's name: callbacks of one event run in name order.
            version = entry.name.removesuffix(".sql")
            return Claim(self, version, callback["desc"] or callback["event"], "main", entry)
        match = _SCRIPT.match(entry.name)
        if match is None or not entry.is_file():
            return None
        prefix, desc = match["prefix"], match["desc"]
        if prefix == "R":
            if match["version"]:
                raise CatalogError.at(
                    entry, "a repeatable script (R__) has no version: R__<description>.sql"
                )
            version = f"R__{desc}"
        elif not match["version"]:
            raise CatalogError.at(
                entry, f"{prefix} script without a version: {prefix}<version>__<description>.sql"
            )
        else:
            version = flyway_version(match["version"])
        role = _ROLES[prefix] if match["ext"] == ".sql" else f"{_ROLES[prefix]}-code"
        return Claim(self, version, desc, role, entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        by_role = one_per_role(claims)
        code = by_role.get("main-code")
        if code is not None:
            if "main" in by_role:
                raise CatalogError.at(
                    code.path, f"version {code.version} is also {by_role['main'].path}"
                )
            raw, _ = ctx.read(code.path)
            return MigrationSpec(
                version=code.version,
                name=code.name,
                database=ctx.database,
                format=self.name,
                source=code.path,
                parts=[("main", raw)],
                steps=[],
                description=code.name.replace("_", " "),
                unsupported=f"a Flyway {code.path.suffix[1:]} migration: migrator runs SQL only",
            )
        if "main" not in by_role:
            orphan = next(iter(by_role.values()))
            raise CatalogError.at(
                orphan.path, f"no V{orphan.version}__*.sql script for this {orphan.role} file"
            )
        main = by_role["main"]
        repeatable = main.version.startswith("R__")
        raw, text = ctx.read(main.path)
        text = replace_placeholders(main.path, text, ctx)
        parts = [("up", raw), *_config_parts(main.path, ctx)]
        down = None
        down_transactional = None
        if "undo" in by_role:
            undo = by_role["undo"]
            undo_raw, down = ctx.read(undo.path)
            down = replace_placeholders(undo.path, down, ctx)
            parts += [("down", undo_raw), *_config_parts(undo.path, ctx)]
            down_transactional = _transaction(undo.path, down, ctx)
        transactional = _transaction(main.path, text, ctx)
        spec = sql_migration(
            fmt=self.name,
            version=main.version,
            name=main.name,
            database=ctx.database,
            source=main.path,
            parts=parts,
            up=text,
            down=down,
            transactional=transactional,
            down_transactional=down_transactional,
            empty_up_allowed=ctx.flavor == "flyway",
            empty_down_is_noop=True,
            vendor=ctx.vendor,
            down_source=by_role["undo"].path if "undo" in by_role else None,
        )
        spec.callback = _event_of(main.path.name)
        spec.repeatable = repeatable or bool(spec.callback)
        spec.description = main.name.replace("_", " ")
        apply_headers(spec, parse_headers(text.split("\n")), main.path)
        return spec

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        flyway = version.replace(".", "_")
        main = folder / f"V{flyway}__{name}.sql"
        undo = folder / f"U{flyway}__{name}.sql"
        main.write_text(f"-- Description: \n{TODO_UP}\n")
        undo.write_text(f"{TODO_DOWN}\n")
        return [main, undo]


def _event_of(name: str) -> str:
    match = _CALLBACK.match(name)
    return match["event"] if match else ""


def callback_event(version: str) -> str:
    """The event of a Flyway callback's version (its file name without ``.sql``), or ""."""
    return _event_of(f"{version}.sql")


def _config_parts(path: Path, ctx: ReadContext) -> list[tuple[str, bytes]]:
    """A script config changes what the script does: its content is part of the checksum."""
    conf = path.with_name(path.name + ".conf")
    return [(f"conf:{path.name}", ctx.read(conf)[0])] if conf.is_file() else []


def _transaction(path: Path, sql: str, ctx: ReadContext) -> bool:
    """Run in a transaction? Its script config (``<script>.conf``) says so, or its
    statements tell (as Flyway detects them)."""
    conf = path.with_name(path.name + ".conf")
    if conf.is_file():
        _, text = ctx.read(conf)
        settings = _script_config(conf, text)
        encoding = settings.get("encoding", "UTF-8").upper().replace("-", "")
        if encoding != "UTF8":
            raise CatalogError.at(
                conf, f"encoding {settings['encoding']!r}: migrator reads UTF-8 scripts only"
            )
        value = settings.get("executeInTransaction")
        if value is not None:
            if value.lower() not in ("true", "false"):
                raise CatalogError.at(
                    conf, f"executeInTransaction must be true or false, not {value!r}"
                )
            return value.lower() == "true"
    return detect_transaction(path, sql, ctx.vendor, "Flyway", mixed=ctx.mixed) is None


_KNOWN_CONF = {"executeInTransaction", "encoding", "shouldExecute"}


def _script_config(path: Path, text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "!")):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise CatalogError.at(path, f"expected key=value, not {stripped!r}", number)
        key = key.strip()
        if key not in _KNOWN_CONF:
            raise CatalogError.at(
                path,
                f"unknown script setting {key!r}: known are {', '.join(sorted(_KNOWN_CONF))}",
                number,
            )
        if key == "shouldExecute":
            raise CatalogError.at(path, "shouldExecute is not supported: remove it", number)
        settings[key] = value.strip()
    return settings
