"""The interface every file format implements, and helpers the SQL formats share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlparse

from ..errors import CatalogError
from ..spec import MigrationSpec, StepSpec

#: Placeholders written by ``migrator create``; an unfilled UP part is refused as empty.
TODO_UP = "-- TODO: write the forward SQL here"
TODO_DOWN = "-- TODO: write the backward SQL here (leave empty if irreversible)"


@dataclass(frozen=True)
class Claim:
    """An entry of a catalog folder claimed by a format as one part of one migration."""

    format: MigrationFormat
    version: str
    name: str
    role: str  # "main", "up", "down" or "undo"
    path: Path


class MigrationFormat:
    """Base class of file formats."""

    name = ""

    def claim(self, entry: Path) -> Claim | None:
        """Return a claim if ``entry`` (a file or a folder) is this format's, else None."""
        raise NotImplementedError

    def build(self, claims: list[Claim], database: str) -> MigrationSpec:
        """Turn the claims of one version into a migration; raise :class:`CatalogError`."""
        raise NotImplementedError

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        """Write an empty migration of this format; return the files written."""
        raise NotImplementedError


def read_text(path: Path) -> tuple[bytes, str]:
    """Raw bytes (for the checksum) and text with BOM and CR line endings removed."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError.at(path, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return raw, text.replace("\r\n", "\n").replace("\r", "\n")


_HEADER = re.compile(r"^--\s*(?P<key>[A-Za-z][A-Za-z -]*?)\s*:\s*(?P<value>.*?)\s*$")
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}
KNOWN_HEADERS = {
    "migration",
    "description",
    "author",
    "date",
    "depends-on",
    "kind",
    "release",
    "risk",
    "requires-downtime",
    "transaction",
}


def parse_headers(path: Path, lines: list[str]) -> dict[str, tuple[str, int]]:
    """``-- Key: value`` comment lines before the first statement, keyed in lower case.

    Lines that look like headers but name no known key are left alone: they are
    ordinary comments to us.
    """
    headers: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER.match(stripped)
        if match and match.group("key").lower() in KNOWN_HEADERS:
            headers[match.group("key").lower()] = (match.group("value"), number)
    return headers


def apply_headers(spec: MigrationSpec, headers: dict[str, tuple[str, int]], path: Path) -> None:
    """Copy known headers onto ``spec``, rejecting invalid values with their line."""
    if "description" in headers:
        spec.description = headers["description"][0]
    if "author" in headers:
        spec.author = headers["author"][0]
    if "date" in headers:
        spec.date = headers["date"][0]
    if "release" in headers:
        spec.release = headers["release"][0]
    if "depends-on" in headers:
        value = headers["depends-on"][0]
        spec.depends_on = [v.strip() for v in value.split(",") if v.strip()]
    if "kind" in headers:
        value, line = headers["kind"]
        if value.lower() not in ("schema", "data", "hybrid"):
            raise CatalogError.at(path, f"Kind must be schema, data or hybrid, not {value!r}", line)
        spec.kind = value.lower()
    if "risk" in headers:
        value, line = headers["risk"]
        if value.lower() not in ("low", "medium", "high"):
            raise CatalogError.at(path, f"Risk must be low, medium or high, not {value!r}", line)
        spec.risk = value.lower()
    if "requires-downtime" in headers:
        spec.requires_downtime = _flag(path, "Requires-Downtime", *headers["requires-downtime"])
    if "transaction" in headers:
        transactional = _flag(path, "Transaction", *headers["transaction"])
        for step in spec.steps:
            step.options["transaction"] = transactional


def _flag(path: Path, key: str, value: str, line: int) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise CatalogError.at(path, f"{key} must be yes or no, not {value!r}", line)


def has_statements(sql: str) -> bool:
    """Whether ``sql`` holds anything but comments and whitespace."""
    if "/*" not in sql:
        # Without block comments a line is either a comment ("--"), blank, or code; this
        # is exact and far cheaper than lexing (catalogs of hundreds of files are common).
        return any(line.strip() and not line.lstrip().startswith("--") for line in sql.split("\n"))
    return bool(sqlparse.format(sql, strip_comments=True).strip())


def sql_migration(
    *,
    fmt: str,
    version: str,
    name: str,
    database: str,
    source: Path,
    parts: list[tuple[str, bytes]],
    up: str,
    down: str,
    transactional: bool = True,
) -> MigrationSpec:
    """A migration of one SQL step, as every SQL-file format produces."""
    if not has_statements(up):
        raise CatalogError.at(source, "the UP part is empty: write the forward SQL")
    if not has_statements(down):
        down = ""  # only comments (e.g. the scaffold's placeholder): irreversible
    step = StepSpec(
        name=name,
        kind="sql",
        forward=up.strip() + "\n",
        backward=down.strip() + "\n" if down.strip() else "",
        options={"transaction": transactional},
    )
    return MigrationSpec(
        version=version,
        name=name,
        database=database,
        format=fmt,
        source=source,
        parts=parts,
        steps=[step],
    )
