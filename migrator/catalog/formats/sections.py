"""Splitting one SQL file into its up and down parts, by each tool's markers.

- migrator's own markers: ``-- === UP MIGRATION ===`` / ``-- === DOWN MIGRATION ===``;
- dbmate: ``-- migrate:up`` / ``-- migrate:down``, options per section (``transaction:false``);
- goose: ``-- +goose Up`` / ``Down``, ``StatementBegin`` / ``End``, ``NO TRANSACTION``,
  ``ENVSUB ON`` / ``OFF``; annotations are case-insensitive and must start the line.

Each parser returns a :class:`Sections`; errors name the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CatalogError
from . import envsub

MARKERS, DBMATE, GOOSE = "sql", "dbmate", "goose"
UP_MARKER, DOWN_MARKER = "UP MIGRATION", "DOWN MIGRATION"

_MARKER = re.compile(r"^--\s*===\s*(?P<word>.*?)\s*===\s*$")
_DBMATE = re.compile(r"^--\s*migrate:(?P<word>\S+)(?P<options>.*)$")
_GOOSE = re.compile(r"^--\s*\+goose\b(?P<rest>.*)$", re.IGNORECASE)
_GOOSE_WORDS = {
    "up",
    "down",
    "statementbegin",
    "statementend",
    "no transaction",
    "envsub on",
    "envsub off",
}


@dataclass
class Sections:
    up: str
    #: None: no down part at all; "" (or comments): a down part that does nothing.
    down: str | None
    up_transaction: bool = True
    down_transaction: bool = True
    #: (line, message) of what the tool ignores: warnings for the catalog.
    notes: list[tuple[int, str]] = field(default_factory=list)


def dialects_in(text: str) -> list[str]:
    """Which tools' markers a file uses (more than one is an error)."""
    found = []
    lines = [line.strip() for line in text.split("\n")]
    if any(_MARKER.match(line) for line in lines):
        found.append(MARKERS)
    if any(_DBMATE.match(line) for line in lines):
        found.append(DBMATE)
    if any(_GOOSE.match(line) for line in lines):
        found.append(GOOSE)
    return found


def markers(path: Path, text: str) -> Sections:
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        match = _MARKER.match(line.strip())
        if match:
            word = match.group("word").upper()
            if word not in (UP_MARKER, DOWN_MARKER):
                raise CatalogError.at(
                    path,
                    f"unknown marker {line.strip()!r}: expected '-- === {UP_MARKER} ===' "
                    f"or '-- === {DOWN_MARKER} ==='",
                    number,
                )
            if word in parts:
                raise CatalogError.at(path, f"a second '-- === {word} ===' marker", number)
            if word == DOWN_MARKER and UP_MARKER not in parts:
                raise CatalogError.at(
                    path,
                    f"'-- === {DOWN_MARKER} ===' comes before '-- === {UP_MARKER} ===': put UP first",
                    number,
                )
            current = word
            parts[word] = [""] * (number)  # keep line numbers: statements report their line
            continue
        if current is None:
            if line.strip() and not line.strip().startswith("--"):
                raise CatalogError.at(
                    path,
                    f"SQL before the '-- === {UP_MARKER} ===' marker: move it below the marker",
                    number,
                )
            continue
        parts[current].append(line)
    if UP_MARKER not in parts:
        raise CatalogError.at(
            path, f"no '-- === {UP_MARKER} ===' section: add one above the forward SQL"
        )
    down = parts.get(DOWN_MARKER)
    return Sections("\n".join(parts[UP_MARKER]), "\n".join(down) if down is not None else None)


def _dbmate_options(raw: str, number: int, notes: list[tuple[int, str]]) -> bool:
    """A section's ``transaction`` option, read as dbmate reads it: ``key:value`` pairs,
    only ``transaction:false`` turning the transaction off; anything else dbmate ignores
    (noted, so a typo such as ``transaction:False`` does not pass unseen)."""
    transactional = True
    for token in raw.split():
        key, sep, value = token.partition(":")
        if not sep or ":" in value:
            notes.append((number, f"option {token!r} is not key:value: dbmate ignores it"))
        elif key != "transaction":
            notes.append((number, f"unknown dbmate option {token!r}: dbmate ignores it"))
        elif value == "false":
            transactional = False
        elif value != "true":
            notes.append((number, f"{token!r}: only transaction:false turns the transaction off"))
    return transactional


def dbmate(path: Path, text: str) -> Sections:
    parts: dict[str, list[str]] = {}
    transactions = {"up": True, "down": True}
    notes: list[tuple[int, str]] = []
    current: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        match = _DBMATE.match(line.strip())
        if match:
            word = match.group("word")
            if word not in ("up", "down"):
                raise CatalogError.at(
                    path, f"unknown marker '-- migrate:{word}': expected up or down", number
                )
            if word in parts:
                raise CatalogError.at(path, f"a second '-- migrate:{word}' marker", number)
            if word == "down" and "up" not in parts:
                raise CatalogError.at(
                    path, "'-- migrate:down' comes before '-- migrate:up'", number
                )
            transactions[word] = _dbmate_options(match.group("options"), number, notes)
            current = word
            parts[word] = [""] * number
            continue
        if current is None:
            if line.strip() and not line.strip().startswith("--"):
                raise CatalogError.at(path, "SQL before '-- migrate:up'", number)
            continue
        parts[current].append(line)
    if "up" not in parts:
        raise CatalogError.at(
            path, "no '-- migrate:up' section (dbmate requires one): add it above the forward SQL"
        )
    down = parts.get("down")
    return Sections(
        "\n".join(parts["up"]),
        "\n".join(down) if down is not None else None,
        transactions["up"],
        transactions["down"],
        notes,
    )


def goose(path: Path, text: str) -> Sections:
    parts: dict[str, list[str]] = {}
    current: str | None = None
    transactional = True
    envsub = False
    open_block: int | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        match = _GOOSE.match(line.strip())
        if not match:
            if current is None:
                if line.strip() and not line.strip().startswith("--"):
                    raise CatalogError.at(
                        path,
                        "SQL before '-- +goose Up' (goose requires the annotation first)",
                        number,
                    )
                continue
            parts[current].append(_substitute(path, line, number) if envsub else line)
            continue
        if line[:1] in (" ", "\t"):
            raise CatalogError.at(
                path,
                "a goose annotation must start the line (goose refuses leading spaces)",
                number,
            )
        rest = match.group("rest")
        if "+goose" in rest.lower():
            raise CatalogError.at(path, "two '+goose' annotations on one line", number)
        word = " ".join(rest.lower().split())
        if word not in _GOOSE_WORDS:
            raise CatalogError.at(
                path,
                f"unknown goose annotation {line.strip()!r}: expected Up, Down, StatementBegin, "
                "StatementEnd, NO TRANSACTION or ENVSUB ON/OFF",
                number,
            )
        if word in ("up", "down"):
            if open_block is not None:
                raise CatalogError.at(path, "StatementBegin without StatementEnd", open_block)
            if word in parts:
                raise CatalogError.at(path, f"a second '-- +goose {word.title()}'", number)
            if word == "down" and "up" not in parts:
                raise CatalogError.at(path, "'-- +goose Down' comes before '-- +goose Up'", number)
            current = word
            parts[word] = [""] * number
        elif word == "no transaction":
            transactional = False
        elif word in ("envsub on", "envsub off"):
            envsub = word == "envsub on"
        elif word == "statementbegin":
            if current is None:
                raise CatalogError.at(path, "StatementBegin outside an Up or Down section", number)
            open_block = number
        elif word == "statementend":
            if open_block is None:
                raise CatalogError.at(path, "StatementEnd without StatementBegin", number)
            open_block = None
        if word not in ("up", "down") and current is not None:
            # An annotation inside a section: a blank line in its place keeps every
            # statement on its own line of the file (errors and lint findings name it).
            parts[current].append("")
    if open_block is not None:
        raise CatalogError.at(path, "StatementBegin without StatementEnd", open_block)
    if "up" not in parts:
        raise CatalogError.at(path, "no '-- +goose Up' annotation (goose requires one)")
    down = parts.get("down")
    return Sections(
        "\n".join(parts["up"]),
        "\n".join(down) if down is not None else None,
        transactional,
        transactional,
    )


def _substitute(path: Path, line: str, number: int) -> str:
    """goose's ENVSUB ON (see :mod:`.envsub`); a required variable that is not set is an
    error naming the line, as goose fails the migration."""
    try:
        return envsub.expand(line)
    except envsub.RequiredVariable as exc:
        raise CatalogError.at(path, f"ENVSUB: {exc} (set it in the environment)", number) from exc


PARSERS = {MARKERS: markers, DBMATE: dbmate, GOOSE: goose}
