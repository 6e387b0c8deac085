"""goose files: ``-- +goose Up`` / ``Down``, ``StatementBegin``/``End``, ``NO TRANSACTION``."""

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

_ANNOTATION = re.compile(r"^--\s*\+goose\s+(?P<word>.+?)\s*$", re.IGNORECASE)
_KNOWN = {
    "up",
    "down",
    "statementbegin",
    "statementend",
    "no transaction",
    "envsub on",
    "envsub off",
}


def sniff(text: str) -> bool:
    return any(_ANNOTATION.match(line.strip()) for line in text.split("\n"))


def parse(path: Path, version: str, name: str, database: str) -> MigrationSpec:
    raw, text = read_text(path)
    lines = text.split("\n")
    sections: dict[str, list[str]] = {}
    current: str | None = None
    transactional = True
    open_block: int | None = None
    for number, line in enumerate(lines, start=1):
        match = _ANNOTATION.match(line.strip())
        if not match:
            if current is None:
                if line.strip() and not line.strip().startswith("--"):
                    raise CatalogError.at(path, "SQL before '-- +goose Up'", number)
                continue
            sections[current].append(line)
            continue
        word = " ".join(match.group("word").lower().split())
        if word not in _KNOWN:
            raise CatalogError.at(
                path,
                f"unknown goose annotation {line.strip()!r}: expected Up, Down, StatementBegin, "
                "StatementEnd or NO TRANSACTION",
                number,
            )
        if word in ("up", "down"):
            if open_block is not None:
                raise CatalogError.at(path, "StatementBegin without StatementEnd", open_block)
            if word in sections:
                raise CatalogError.at(path, f"a second '-- +goose {word.title()}'", number)
            if word == "down" and "up" not in sections:
                raise CatalogError.at(path, "'-- +goose Down' comes before '-- +goose Up'", number)
            current = word
            sections[word] = []
        elif word == "no transaction":
            transactional = False
        elif word == "statementbegin":
            if current is None:
                raise CatalogError.at(path, "StatementBegin outside an Up or Down section", number)
            open_block = number
        elif word == "statementend":
            if open_block is None:
                raise CatalogError.at(path, "StatementEnd without StatementBegin", number)
            open_block = None
    if open_block is not None:
        raise CatalogError.at(path, "StatementBegin without StatementEnd", open_block)
    if "up" not in sections:
        raise CatalogError.at(path, "no '-- +goose Up' section")
    spec = sql_migration(
        fmt="goose",
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


class GooseFormat(MigrationFormat):
    """Scaffolding for goose files; reading goes through :mod:`.single_sql`."""

    name = "goose"

    def claim(self, entry: Path) -> Claim | None:
        return None

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.sql"
        path.write_text(
            f"-- +goose Up\n-- +goose StatementBegin\n{TODO_UP}\n-- +goose StatementEnd\n\n"
            f"-- +goose Down\n-- +goose StatementBegin\n{TODO_DOWN}\n-- +goose StatementEnd\n"
        )
        return [path]
