"""dbmate files: ``-- migrate:up`` and ``-- migrate:down``, options like ``transaction:false``."""

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

_MARKER = re.compile(r"^--\s*migrate:(?P<word>\S+)(?P<options>.*)$")
_OPTION = re.compile(r"^(?P<key>[a-z_]+):(?P<value>\S+)$")


def sniff(text: str) -> bool:
    return any(_MARKER.match(line.strip()) for line in text.split("\n"))


def _options(path: Path, raw: str, number: int) -> bool:
    """Parse marker options; return whether the section runs in a transaction."""
    transactional = True
    for token in raw.split():
        match = _OPTION.match(token)
        if not match or match.group("key") != "transaction":
            raise CatalogError.at(
                path, f"unknown dbmate option {token!r}: only transaction:false is known", number
            )
        if match.group("value") not in ("true", "false"):
            raise CatalogError.at(path, f"transaction must be true or false, not {token!r}", number)
        transactional = match.group("value") == "true"
    return transactional


def parse(path: Path, version: str, name: str, database: str) -> MigrationSpec:
    raw, text = read_text(path)
    lines = text.split("\n")
    sections: dict[str, list[str]] = {}
    transactional = True
    current: str | None = None
    for number, line in enumerate(lines, start=1):
        match = _MARKER.match(line.strip())
        if match:
            word = match.group("word")
            if word not in ("up", "down"):
                raise CatalogError.at(
                    path, f"unknown marker '-- migrate:{word}': expected up or down", number
                )
            if word in sections:
                raise CatalogError.at(path, f"a second '-- migrate:{word}' marker", number)
            if word == "down" and "up" not in sections:
                raise CatalogError.at(
                    path, "'-- migrate:down' comes before '-- migrate:up'", number
                )
            section_transactional = _options(path, match.group("options"), number)
            transactional = transactional and section_transactional
            current = word
            sections[word] = []
            continue
        if current is None:
            if line.strip() and not line.strip().startswith("--"):
                raise CatalogError.at(path, "SQL before '-- migrate:up'", number)
            continue
        sections[current].append(line)
    if "up" not in sections:
        raise CatalogError.at(path, "no '-- migrate:up' section")
    spec = sql_migration(
        fmt="dbmate",
        version=version,
        name=name,
        database=database,
        source=path,
        parts=[("main", raw)],
        up="\n".join(sections["up"]),
        down="\n".join(sections.get("down", [])),
        transactional=transactional,
    )
    apply_headers(spec, parse_headers(path, lines), path)
    return spec


class DbmateFormat(MigrationFormat):
    """Scaffolding for dbmate files; reading goes through :mod:`.single_sql`."""

    name = "dbmate"

    def claim(self, entry: Path) -> Claim | None:
        return None

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(f"-- migrate:up\n{TODO_UP}\n\n-- migrate:down\n{TODO_DOWN}\n")
        return [path]
