"""Atlas's migration directory, read as Atlas reads it: every ``<version>_<name>.sql`` of
the folder (not its subfolders) is a forward-only migration, and ``atlas.sum`` must match
the files (Atlas refuses to run a directory whose sum does not).

File directives are comment lines at the top of a file, separated from its statements by a
blank line: ``-- atlas:txmode none`` runs the file outside a transaction (``file``, the
default, in one), ``-- atlas:checkpoint`` marks a checkpoint (on an empty database Atlas
runs the last checkpoint instead of the files before it; migrator runs those files, which
give the same schema when the checkpoint is faithful to them). ``-- atlas:delimiter X``
on a file's first line ends its statements at ``X`` (``\\n`` for a line break) instead of
``;``; ``atlas:sum ignore`` on its first line leaves it out of the sum.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from ..errors import CatalogError, CatalogProblem
from ..spec import MigrationSpec
from .base import Claim, MigrationFormat, ReadContext, sql_migration

SUM_FILE = "atlas.sum"

#: Atlas's ``reDirective``: a directive on the first line of a text, its argument after.
_DIRECTIVE = re.compile(r"^([ -~]*?)atlas:(\w+)(?: +([ -~]*))?")
_TX_MODES = {"none": False, "file": True}


class AtlasFormat(MigrationFormat):
    name = "atlas"

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        if entry.suffix != ".sql" or not entry.is_file():
            return None
        version, _, name = entry.stem.partition("_")
        if not version:
            # Atlas would run it (its version is ""); migrator cannot give it a place.
            raise CatalogError.at(
                entry,
                "no version before the first '_' (Atlas's version): name it "
                f"<version>{entry.name}, e.g. 20240101000000{entry.name}",
            )
        if is_checkpoint(ctx.read(entry)[1]):
            return None  # the flavor says why
        return Claim(self, version, name or version, "main", entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        claim = claims[0]
        if len(claims) > 1:
            others = ", ".join(c.path.name for c in claims[1:])
            raise CatalogError.at(
                claim.path,
                f"version {claim.version} is also the version of {others}: Atlas versions "
                "are the part of the name before its first '_': give one of them another",
            )
        raw, text = ctx.read(claim.path)
        transactional = True
        for number, name, value in file_directives(text):
            if name != "txmode":
                continue
            if value not in _TX_MODES:
                raise CatalogError.at(
                    claim.path, f"atlas:txmode {value!r}: Atlas takes none or file", number
                )
            transactional = _TX_MODES[value]
        return sql_migration(
            fmt="atlas",
            version=claim.version,
            name=claim.name,
            database=ctx.database,
            source=claim.path,
            parts=[("main", raw)],
            up=with_semicolons(claim.path, text),
            down=None,
            transactional=transactional,
            # Atlas runs a file of comments alone as it runs any other: nothing to do.
            empty_up_allowed=True,
            vendor=ctx.vendor,
        )


def directive(text: str, name: str, prefix: str | None = None) -> str | None:
    """The argument of the directive ``name`` on ``text``'s first line (None if there is
    none), as Atlas reads it; ``prefix``: what must come before ``atlas:``."""
    match = _DIRECTIVE.match(text)
    if match is None or match[2] != name or (prefix is not None and match[1] != prefix):
        return None
    return match[3] or ""


def file_directives(text: str) -> list[tuple[int, str, str]]:
    """``(line, name, argument)`` of the file's directives: its leading comment lines,
    when a blank line separates them from what follows (Atlas's rule)."""
    lines = text.split("\n")
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(("#", "--")):
            if line:
                return []  # no blank line after the comments: they belong to a statement
            break
        match = _DIRECTIVE.match(line.strip())
        if match is not None:
            found.append((number, match[2], (match[3] or "").strip()))
    else:
        return []  # comments only
    return found


def is_checkpoint(text: str) -> bool:
    return any(name == "checkpoint" for _, name, _ in file_directives(text))


def with_semicolons(path: Path, text: str) -> str:
    """``text`` with its ``atlas:delimiter`` (if any) replaced by ``;`` where it ends a
    statement, line breaks kept (statements report their line in the file)."""
    given = directive(text, "delimiter", "-- ")
    if given is None:
        return text
    delimiter = given.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
    if not delimiter.strip(" "):
        raise CatalogError.at(
            path, "atlas:delimiter is empty: give the text that ends a statement", 1
        )
    head, _, body = text.partition("\n")
    pieces = _split_at(body, delimiter)
    out = [head, "\n"]
    for index, piece in enumerate(pieces):
        out.append(piece)
        if index < len(pieces) - 1:
            ends = piece.rstrip().endswith(";") or not piece.strip()
            out.append(("" if ends else ";") + "\n" * delimiter.count("\n"))
    return "".join(out)


_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _split_at(body: str, delimiter: str) -> list[str]:
    """``body`` cut at each ``delimiter`` outside quotes, dollar quotes, comments and
    parentheses (Atlas's scanner: the delimiter is looked for before a comment)."""
    pieces, start, depth, i, n = [], 0, 0, 0, len(body)
    while i < n:
        if depth == 0 and body.startswith(delimiter, i):
            pieces.append(body[start:i])
            i = start = i + len(delimiter)
            continue
        char = body[i]
        if char in "'\"`":
            end = body.find(char, i + 1)
            i = n if end == -1 else end + 1
        elif char == "$" and (quote := _DOLLAR.match(body, i)):
            end = body.find(quote.group(), quote.end())
            i = n if end == -1 else end + len(quote.group())
        elif body.startswith("--", i):
            end = body.find("\n", i)
            i = n if end == -1 else end
        elif body.startswith("/*", i):
            end = body.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            depth += char == "("
            depth -= char == ")" and depth > 0
            i += 1
    pieces.append(body[start:])
    return pieces


def sum_problems(folder: Path, ctx: ReadContext) -> list[CatalogProblem]:
    """What Atlas's check of ``atlas.sum`` against the folder's ``.sql`` files finds:
    Atlas refuses to run such a directory, so each is an error."""
    path = folder / SUM_FILE
    if not path.is_file():
        return [
            CatalogProblem(
                str(folder), f"no {SUM_FILE}: Atlas refuses such a folder; run `atlas migrate hash`"
            )
        ]
    _, text = ctx.read(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    recorded: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        name, sep, digest = line.partition("h1:")
        if not sep:
            return [
                CatalogProblem(str(path), "not a line of a checksum file: <file> h1:<hash>", number)
            ]
        recorded.append((name.strip(), digest))
    header = lines[0].removeprefix("h1:") if lines else ""
    if header != _total(recorded):
        return [
            CatalogProblem(
                str(path),
                "checksum mismatch: its first line is not the sum of its other lines (edited by "
                "hand?); run `atlas migrate hash`",
                1,
            )
        ]
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".sql" and p.is_file())
    try:
        computed = _hashes(folder, names, ctx)
    except CatalogError:
        return []  # a file that cannot be read: its own problem says so
    if _total(computed) == header:
        return []
    for (name, digest), (was, was_digest) in zip(computed, recorded, strict=False):
        if name != was or digest != was_digest:
            culprit = name if name == was or name not in dict(recorded) else was
            return [_mismatch(path, folder / culprit)]
    longer = computed[len(recorded) :] or recorded[len(computed) :]
    return [_mismatch(path, folder / longer[0][0])]


def _mismatch(sum_path: Path, culprit: Path) -> CatalogProblem:
    return CatalogProblem(
        str(culprit),
        f"checksum mismatch: {sum_path.name} does not match this file (changed, added or "
        "removed since it was hashed); Atlas refuses to run such a folder: run "
        "`atlas migrate hash` if the change is meant",
    )


def _hashes(folder: Path, names: list[str], ctx: ReadContext) -> list[tuple[str, str]]:
    """Atlas's ``NewHashFile``: one running SHA-256 over each file's name and contents,
    its value after each file (a file with ``atlas:sum ignore`` adds its name only)."""
    running = hashlib.sha256()
    out = []
    for name in names:
        raw, text = ctx.read(folder / name)
        running.update(name.encode())
        if directive(text, "sum") == "ignore":
            continue
        running.update(raw)
        out.append((name, base64.b64encode(running.copy().digest()).decode()))
    return out


def _total(entries: list[tuple[str, str]]) -> str:
    """Atlas's ``HashFile.Sum``: the SHA-256 of every name and hash in order."""
    total = hashlib.sha256()
    for name, digest in entries:
        total.update(name.encode())
        total.update(digest.encode())
    return base64.b64encode(total.digest()).decode()


__all__ = ["SUM_FILE", "AtlasFormat", "is_checkpoint", "sum_problems"]
