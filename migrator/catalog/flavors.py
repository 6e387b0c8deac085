"""Which tool's rules a catalog folder follows, and what that tool does with an entry no
reader claims: ignores it (a warning for us, an error with ``STRICT``) or refuses it.

A folder's flavor is declared (``MIGRATOR["DIRS"]`` ``"format"``) or told by its files: the
files of exactly one tool make it that tool's folder; files of several (or migrator's own
formats) make it migrator's own mixed folder, where every reader applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .formats import (
    AtlasFormat,
    FlywayFormat,
    FolderFormat,
    GoGooseFormat,
    MigrationFormat,
    PairedFormat,
    PythonFormat,
    SingleSqlFormat,
)
from .formats.atlas import SUM_FILE, is_checkpoint
from .formats.base import ReadContext
from .formats.sections import DBMATE, GOOSE, dialects_in
from .formats.single_sql import DBMATE_FILE
from .versions import split_versioned_name

IGNORE, ERROR = "warning", "error"


@dataclass(frozen=True)
class Flavor:
    name: str
    tool: str
    formats: tuple[MigrationFormat, ...]
    #: Subfolders are containers to walk into (Flyway), not entries.
    recursive: bool = False

    def unclaimed(self, entry: Path) -> tuple[str, str]:
        """(level, message) for an entry no reader claimed."""
        is_dir = entry.is_dir()
        if (
            self.name in ("flyway", "migrator")
            and not is_dir
            and _FLYWAY_CALLBACK.match(entry.name)
        ):
            event = entry.name.split("__", 1)[0].removesuffix(".sql")
            return IGNORE, (
                f"a Flyway callback ({event}): Flyway runs it at that event, migrator runs only "
                "those of migrate (beforeMigrate, afterVersioned, beforeRepeatables, "
                "afterMigrate, afterMigrateApplied): run it yourself, or make it one of those"
            )
        if (
            self.name == "flyway"
            and not is_dir
            and (baseline := _FLYWAY_BASELINE.match(entry.name))
        ):
            version = baseline["version"].replace("_", ".")
            return IGNORE, (
                f"a Flyway baseline migration ({version}): on an empty database Flyway runs it "
                f"instead of the versioned migrations up to {version}; migrator runs those "
                "(the same schema, if the baseline is faithful to them)"
            )
        if self.name == "migrator":
            if entry.suffix in (".sql", ".py") and not is_dir:
                return ERROR, (
                    "no version in the file name: name it <version>_<name>"
                    f"{''.join(entry.suffixes)} (e.g. 0001_create_users{entry.suffix})"
                )
            return IGNORE, "not a migration: ignored (name a migration <version>_<name>...)"
        if self.name == "atlas" and entry.suffix == ".sql" and not is_dir:
            try:
                checkpoint = is_checkpoint(entry.read_text(errors="replace"))
            except OSError:
                checkpoint = False
            if checkpoint:
                return IGNORE, (
                    "an Atlas checkpoint: on an empty database Atlas runs the last one instead "
                    "of the files before it; migrator runs those (the same schema, if the "
                    "checkpoint is faithful to them)"
                )
        if self.name == "goose" and entry.suffix == ".sql" and not is_dir:
            return (
                ERROR,
                "goose refuses a .sql file without a numeric version: name it <version>_<name>.sql",
            )
        what = "folder" if is_dir else "file"
        return (
            IGNORE,
            f"not {'an' if self.tool[0] in 'AEIOU' else 'a'} {self.tool} migration: {self.tool} "
            f"ignores this {what}, and so does migrator",
        )


_NATIVE = (FlywayFormat(), PairedFormat(), FolderFormat(), PythonFormat(), SingleSqlFormat())

FLAVORS: dict[str, Flavor] = {
    flavor.name: flavor
    for flavor in (
        Flavor("migrator", "migrator", _NATIVE),
        Flavor("diesel", "diesel", (FolderFormat(),)),
        Flavor("golang-migrate", "golang-migrate", (PairedFormat(),)),
        Flavor("flyway", "Flyway", (FlywayFormat(),), recursive=True),
        Flavor("goose", "goose", (SingleSqlFormat(), GoGooseFormat())),
        Flavor("dbmate", "dbmate", (SingleSqlFormat(),)),
        Flavor("atlas", "Atlas", (AtlasFormat(),)),
    )
}

#: Flyway's SQL callbacks: ``afterMigrate.sql``, ``beforeEachMigrate__audit.sql``, ...
_FLYWAY_CALLBACK = re.compile(r"^(?:(?:before|after)[A-Z][A-Za-z]*|createSchema)(?:__.*)?\.sql$")
_FLYWAY_BASELINE = re.compile(r"^B(?P<version>[0-9][0-9._]*)__.*\.sql$")
_DIESEL_DIR = re.compile(r"^(\d{4}-\d\d-\d\d-\d{6}(-\d{4})?|0{14})_")
_FLYWAY = re.compile(r"^[VUR][0-9._]*__.*\.(sql|java|kt)$")
_GOLANG = re.compile(r"^[0-9]+_.*\.(up|down)\..*$")


def _vote(path: Path, ctx: ReadContext) -> str | None:
    """Which tool a single entry belongs to, if it tells."""
    name = path.name
    if path.is_dir():
        if _DIESEL_DIR.match(name) and (path / "up.sql").is_file():
            return "diesel"
        return "migrator" if split_versioned_name(name) else None
    if _FLYWAY.match(name):
        return "flyway"
    if name.endswith(".go") and split_versioned_name(name[:-3]):
        return "goose"
    if _GOLANG.match(name):
        return "golang-migrate"
    if name.endswith(".py") and split_versioned_name(name[:-3]):
        return "migrator"
    versioned = name.endswith(".sql") and split_versioned_name(name[:-4]) is not None
    if versioned or DBMATE_FILE.match(name):
        try:
            _, text = ctx.read(path)
        except Exception:  # noqa: BLE001 - the reader reports it, with where
            return None
        found = dialects_in(text)
        if found == [DBMATE]:
            return "dbmate"
        if found == [GOOSE] and versioned:
            return "goose"
        if versioned and not found:
            return _PLAIN  # migrator's (an error there), or Atlas's with an atlas.sum
        return "migrator" if versioned else None
    return None


#: The vote of a versioned ``.sql`` file without any tool's markers.
_PLAIN = "plain"


def detect(
    declared: str | None, paths: list[Path], ctx: ReadContext, folder: Path | None = None
) -> Flavor:
    """The folder's flavor: declared, or the one tool all its migrations belong to (plain
    SQL files next to an ``atlas.sum`` are Atlas's)."""
    if declared:
        return FLAVORS[declared]
    votes = {vote for path in paths if (vote := _vote(path, ctx)) is not None}
    if votes == {_PLAIN} and folder is not None and (folder / SUM_FILE).is_file():
        return FLAVORS["atlas"]
    votes = {"migrator" if vote == _PLAIN else vote for vote in votes}
    if len(votes) == 1:
        return FLAVORS[votes.pop()]
    return FLAVORS["migrator"]
