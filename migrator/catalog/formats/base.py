"""The interface every file format implements, and what the SQL formats share: reading
text safely, header comments, and one SQL step with its transaction settled."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ...dialects import DIALECTS, Statement, split_statements
from ...dialects.base import first_code_offset
from ..errors import CatalogError, CatalogProblem
from ..spec import MigrationSpec, StepSpec

#: Placeholders written by ``migrator create``; an unfilled UP part is refused as empty.
TODO_UP = "-- TODO: write the forward SQL here"
TODO_DOWN = "-- TODO: write the backward SQL here (leave empty if irreversible)"


@dataclass
class ReadContext:
    """What a reader needs to know about where it reads: the folder's tool (flavor), the
    target database's vendor, and the texts read so far (each file is read once)."""

    flavor: str = "migrator"
    vendor: str = ""
    database: str = "default"
    texts: dict[Path, tuple[bytes, str]] = field(default_factory=dict)
    #: What a reader noticed that is not an error (shown by sync, status and verify).
    warnings: list[CatalogProblem] = field(default_factory=list)
    #: Every file asked for by :meth:`read` (what a built migration depends on).
    touched: set[Path] = field(default_factory=set)
    #: Flyway placeholders given for the folder; None: ``${...}`` is left as written.
    placeholders: dict[str, str] | None = field(default_factory=dict)
    #: Flyway's ``mixed`` for the folder (see :func:`detect_transaction`).
    mixed: bool = False

    def warn(self, path: Path, message: str, line: int | None = None) -> None:
        self.warnings.append(CatalogProblem(str(path), message, line))

    def read(self, path: Path) -> tuple[bytes, str]:
        self.touched.add(path)
        if path not in self.texts:
            self.texts[path] = read_text(path)
        return self.texts[path]


@dataclass(frozen=True)
class Claim:
    """An entry of a catalog folder claimed by a format as one part of one migration."""

    format: MigrationFormat
    version: str
    name: str
    role: str  # "main", "up", "down", "undo" or "conf"
    path: Path


class MigrationFormat:
    """Base class of file formats."""

    name = ""
    #: Whether a folder of this format's migrations may be kept while its files do not
    #: change (see :mod:`migrator.catalog.reuse`): builds read nothing but files, through
    #: ``ctx.read``, next to or inside what they claim.
    reusable = True

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        """Return a claim if ``entry`` (a file or a folder) is this format's, else None."""
        raise NotImplementedError

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        """Turn the claims of one version into a migration; raise :class:`CatalogError`."""
        raise NotImplementedError

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        """Write an empty migration of this format; return the files written."""
        raise NotImplementedError


def one_per_role(claims: list[Claim]) -> dict[str, Claim]:
    """Claims by role; two files playing the same part of one version is an error naming
    both (e.g. ``010_create_logs.sql`` and ``010_create_logs_again.sql``)."""
    by_role: dict[str, Claim] = {}
    for claim in sorted(claims, key=lambda c: str(c.path)):
        other = by_role.get(claim.role)
        if other is not None:
            raise CatalogError.at(
                claim.path,
                f"version {claim.version} is also declared by {other.path}: give one of them "
                "another version",
            )
        by_role[claim.role] = claim
    return by_role


def read_text(path: Path) -> tuple[bytes, str]:
    """Raw bytes (for the checksum) and text with BOM and CR line endings removed; a file
    that is not UTF-8 text (or holds a NUL byte) is refused with where."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError.at(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError.at(
            path, f"not valid UTF-8 ({exc.reason} at byte {exc.start}): save it as UTF-8", line
        ) from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CatalogError.at(path, "holds a NUL byte: not a text file", line)
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
    "foreign-keys",
    "stop",
}


def parse_headers(lines: list[str]) -> dict[str, tuple[str, int]]:
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
    for key, attribute in (("description", "description"), ("author", "author")):
        if key in headers:
            setattr(spec, attribute, headers[key][0])
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
    if "stop" in headers:
        spec.required_stop = _flag(path, "Stop", *headers["stop"])
    if "foreign-keys" in headers:
        if not _flag(path, "Foreign-Keys", *headers["foreign-keys"]):
            spec.options["foreign_keys"] = False
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
        # Without block comments a line is a comment ("--"), blank, or code: exact, and far
        # cheaper than lexing (catalogs of thousands of files are common).
        return any(line.strip() and not line.lstrip().startswith("--") for line in sql.split("\n"))
    return bool(split_statements("", sql))


def non_transactional_lines(sql: str, vendor: str) -> tuple[list[int], list[int]]:
    """Lines of statements that cannot run inside a transaction on ``vendor``, and of
    the others (to tell a script that mixes them)."""
    dialect = DIALECTS.get(vendor)
    if dialect is None:
        return [], []
    outside, inside = [], []
    for statement in split_statements(vendor, sql):
        if dialect.requires_autocommit(dialect, statement.sql):  # type: ignore[arg-type]
            outside.append(statement.line)
        else:
            inside.append(statement.line)
    return outside, inside


def detect_transaction(
    path: Path, sql: str, vendor: str, tool: str, *, mixed: bool = False
) -> bool | None:
    """What a tool that detects non-transactional statements (Flyway) does with a script:
    False (run it outside a transaction), None (nothing to detect), or an error when the
    script mixes both kinds, which the tool refuses too (unless ``mixed``: Flyway's
    setting, with which such a script runs outside a transaction)."""
    outside, inside = non_transactional_lines(sql, vendor)
    if not outside:
        return None
    if inside and not mixed:
        # Flyway's own way out, which migrator's DIRS entries take too.
        allow = ', or give its folder "mixed": True (Flyway\'s mixed)' if tool == "Flyway" else ""
        raise CatalogError.at(
            path,
            f"mixes a statement that cannot run in a transaction (line {outside[0]}) with "
            f"ones that can (line {inside[0]}); {tool} refuses such a script too: split it"
            f"{allow}",
            outside[0],
        )
    return False


_BEGIN = re.compile(
    r"^(?:BEGIN|START\s+TRANSACTION)(?:\s+(?:WORK|TRANSACTION|DEFERRED|IMMEDIATE|EXCLUSIVE))*"
    r"(?P<modes>(?:\s+(?:ISOLATION\s+LEVEL|READ|NOT|DEFERRABLE|,).*)?)$",
    re.IGNORECASE | re.DOTALL,
)
_COMMIT = re.compile(
    r"^(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+NO\s+CHAIN)?$", re.IGNORECASE
)
#: Ends or changes a transaction: ``ROLLBACK`` (not ``ROLLBACK TO`` a savepoint), a
#: ``COMMIT`` or ``BEGIN`` anywhere but at the ends, two-phase commit.
_CONTROL = re.compile(
    r"^(?:ROLLBACK|ABORT)(?!\s+TO\b)(?:\s.*)?$|^(?:COMMIT|END|PREPARE\s+TRANSACTION)\b",
    re.IGNORECASE | re.DOTALL,
)


#: Ends the session's transaction (a ``COMMIT AND CHAIN`` begins the next at once; the
#: ``... PREPARED`` forms act on a prepared transaction, not the session's).
_ENDS = re.compile(
    r"^(?:COMMIT|END|ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+NO\s+CHAIN)?$"
    r"|^PREPARE\s+TRANSACTION\b",
    re.IGNORECASE,
)


class UnendedTransaction(Exception):
    """A script begins a transaction it never ends (``line``: that ``BEGIN``'s); ``part``:
    ``"up"`` or ``"down"``."""

    def __init__(self, line: int, part: str = "up"):
        self.line = line
        self.part = part
        super().__init__(self.told("its down part" if part == "down" else ""))

    def told(self, subject: str, where: str = "line") -> str:
        """What is wrong and what to do, said of ``subject`` (the script by default)."""
        return (
            f"{subject + ' ' if subject else ''}begins a transaction at {where} {self.line} "
            "that it never ends (no COMMIT or ROLLBACK after it): end it with COMMIT, or "
            "drop that BEGIN"
        )


def _left_open(statements: Sequence[Statement]) -> int | None:
    """The line of a ``BEGIN`` no later statement ends, if the script leaves one open (run
    outside the step's transaction, it would still be open when the script is done)."""
    begun: int | None = None
    for statement in statements:
        if _BEGIN.match(statement.sql):
            begun = begun or statement.line  # a second BEGIN changes nothing (PostgreSQL)
        elif _ENDS.match(statement.sql):
            begun = None
    return begun


def own_transactions(sql: str, vendor: str) -> tuple[str, bool | None]:
    """A script's own transaction control, as the step's transaction sees it.

    Scripts written for tools that do not wrap them (golang-migrate on PostgreSQL) often
    wrap themselves: ``BEGIN; ...; COMMIT;``. Run inside the step's transaction, that
    ``COMMIT`` would commit the step half-way, before its record (and SQLite refuses the
    ``BEGIN``). So a script that is exactly one wrapped transaction loses the wrapper,
    line numbers kept, and runs in the step's transaction, which is the same transaction;
    one with any other transaction control (several transactions, a ``ROLLBACK``, a
    ``BEGIN ISOLATION LEVEL ...``) manages its own and runs outside the step's:
    ``(script, False)``. ``(script, None)`` when it has none. :class:`UnendedTransaction`
    when it begins a transaction it never ends.
    """
    if not re.search(r"\b(?:BEGIN|START|COMMIT|END|ROLLBACK|ABORT|PREPARE)\b", sql, re.I):
        return sql, None  # cheap: most scripts never mention one
    statements = split_statements(vendor, sql)
    if not statements:
        return sql, None
    begins = [i for i, s in enumerate(statements) if _BEGIN.match(s.sql)]
    others = [i for i, s in enumerate(statements) if _CONTROL.match(s.sql)]
    if not begins and not others:
        return sql, None
    unended = _left_open(statements)
    if unended is not None:
        raise UnendedTransaction(unended)
    last = len(statements) - 1
    begin = _BEGIN.match(statements[0].sql)
    wrapped = (
        begins == [0]
        and others == [last]
        and last > 0
        and bool(_COMMIT.match(statements[last].sql))
        # A BEGIN with its own isolation level or access mode asks for more than the
        # step's transaction gives: the script keeps its transaction.
        and begin is not None
        and not begin["modes"].strip()
    )
    if not wrapped:
        return sql, False
    try:
        head = _statement_span(sql, statements[0])
        tail = _statement_span(sql, statements[last])
    except ValueError:  # not where its line says: the script keeps its transaction
        return sql, False
    text = (
        sql[: head[0]]
        + _blank(sql[head[0] : head[1]])
        + sql[head[1] : tail[0]]
        + _blank(sql[tail[0] : tail[1]])
        + sql[tail[1] :]
    )
    # Exactly the statements between the wrapper, on their lines: anything else (text
    # found elsewhere than thought) and the script keeps its own transaction instead.
    if split_statements(vendor, text) != statements[1:last]:
        return sql, False
    return text, None


def _statement_span(sql: str, statement: Statement) -> tuple[int, int]:
    """Where ``statement`` is in ``sql``, with its ``;``: from the line it starts on."""
    line_start = 0
    for _ in range(statement.line - 1):
        line_start = sql.index("\n", line_start) + 1
    start = sql.find(statement.sql, line_start + first_code_offset(sql[line_start:]))
    end = start + len(statement.sql)
    rest = sql[end:]
    stripped = rest.lstrip(" \t\n")
    if stripped.startswith(";"):
        end += len(rest) - len(stripped) + 1
    return start, end


def _blank(text: str) -> str:
    """``text`` left out, its line breaks kept (statements after it keep their line)."""
    return "\n" * text.count("\n")


class Settled(NamedTuple):
    """An up and a down part with their own transaction control handled, and the
    transaction settings that follow (see :func:`settle_transactions`)."""

    up: str
    down: str | None
    transactional: bool
    #: None: the same as ``transactional``.
    down_transactional: bool | None
    #: The up part commits or rolls back on its own (so it runs outside the step's).
    up_manages_own: bool


def settle_transactions(
    up: str, down: str | None, transactional: bool, down_transactional: bool | None, vendor: str
) -> Settled:
    """Each part's own ``BEGIN``/``COMMIT`` as :func:`own_transactions` says: a part
    that manages its own runs outside the step's transaction, and an up part doing so
    leaves the down part with its declared setting (``down_transactional``, else
    ``transactional``)."""
    declared = transactional if down_transactional is None else down_transactional
    up, up_own = own_transactions(up, vendor)
    if up_own is False:
        transactional = False
        down_transactional = declared
    if down is not None:
        try:
            down, down_own = own_transactions(down, vendor)
        except UnendedTransaction as exc:
            raise UnendedTransaction(exc.line, "down") from None
        if down_own is False:
            down_transactional = False
    return Settled(up, down, transactional, down_transactional, up_own is False)


def sql_migration(
    *,
    fmt: str,
    version: str,
    name: str,
    database: str,
    source: Path,
    parts: list[tuple[str, bytes]],
    up: str,
    down: str | None,
    transactional: bool = True,
    down_transactional: bool | None = None,
    empty_up_allowed: bool = False,
    empty_down_is_noop: bool = False,
    vendor: str = "",
    up_source: Path | None = None,
    down_source: Path | None = None,
) -> MigrationSpec:
    """A migration of one SQL step, as every SQL-file format produces.

    ``down`` None: there is no down part. An empty (or comments-only) down part is a no-op
    way back where the tool means it so (``empty_down_is_noop``, diesel), else none.
    ``down_transactional``: the down part's own transaction setting (dbmate sets it per
    section), by default the same as the up part's. A part's own ``BEGIN``/``COMMIT`` is
    handled as :func:`own_transactions` says (by ``vendor``'s splitting rules).
    ``up_source``, ``down_source``: each part's own file, where it has one (errors in a
    part name it).
    """
    try:
        settled = settle_transactions(up, down, transactional, down_transactional, vendor)
    except UnendedTransaction as exc:
        own = down_source if exc.part == "down" else up_source
        raise CatalogError.at(own or source, str(exc), exc.line) from None
    up, down = settled.up, settled.down
    transactional, down_transactional = settled.transactional, settled.down_transactional
    if not empty_up_allowed and not has_statements(up):
        raise CatalogError.at(source, "the UP part is empty: write the forward SQL")
    options: dict[str, Any] = {"transaction": transactional}
    if down_transactional is not None and down_transactional != transactional:
        options["backward_transaction"] = down_transactional
    backward = ""
    if down is not None and has_statements(down):
        # Leading blank lines are kept: statements report their line in the file.
        backward = down.rstrip() + "\n"
    elif down is not None and empty_down_is_noop:
        options["noop_down"] = True
    step = StepSpec(
        name=name,
        kind="sql",
        forward=up.rstrip() + "\n" if up.strip() else "",
        backward=backward,
        options=options,
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
