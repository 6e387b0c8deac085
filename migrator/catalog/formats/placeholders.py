"""Flyway's placeholders: ``${name}`` in a script is replaced before it runs.

As Flyway does by default (``placeholderReplacement=true``): the built-in
``${flyway:defaultSchema}``, ``${flyway:user}``, ``${flyway:database}``,
``${flyway:timestamp}``, ``${flyway:filename}``, ``${flyway:workingDirectory}`` and
``${flyway:table}``, and the folder's own (``MIGRATOR["DIRS"]`` entry ``"placeholders"``).
A placeholder without a value is an error naming the file and line, as Flyway refuses
the script ("No value provided for placeholder"). The checksum stays the file's own:
Flyway's does not change with a placeholder's value either.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path

from django.db import connections

from ..errors import CatalogError
from .base import ReadContext

_PLACEHOLDER = re.compile(r"\$\{(?P<name>.+?)\}")


def _default_schema(alias: str) -> str:
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return "main"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return str(cursor.fetchone()[0])


def _database(alias: str) -> str:
    connection = connections[alias]
    return "main" if connection.vendor == "sqlite" else str(connection.settings_dict["NAME"])


_BUILT_IN: dict[str, Callable[[str, Path], str]] = {
    "flyway:defaultschema": lambda alias, path: _default_schema(alias),
    "flyway:user": lambda alias, path: str(connections[alias].settings_dict.get("USER") or ""),
    "flyway:database": lambda alias, path: _database(alias),
    "flyway:timestamp": lambda alias, path: datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
    "flyway:filename": lambda alias, path: path.name,
    "flyway:workingdirectory": lambda alias, path: os.getcwd(),
    "flyway:table": lambda alias, path: "flyway_schema_history",
}


def replace_placeholders(path: Path, text: str, ctx: ReadContext) -> str:
    """``text`` with its placeholders replaced (as written when replacement is off)."""
    given = ctx.placeholders
    if given is None or "${" not in text:
        return text
    folded = {name.lower(): value for name, value in given.items()}
    known: dict[str, str] = {}

    def value_of(match: re.Match[str]) -> str:
        name = match["name"]
        if name in given:
            return given[name]
        if name.lower() in folded:
            return folded[name.lower()]
        built_in = _BUILT_IN.get(name.lower())
        if built_in is not None:
            # Once per script: ``${flyway:defaultSchema}`` asks the database.
            if name.lower() not in known:
                known[name.lower()] = built_in(ctx.database, path)
            return known[name.lower()]
        line = text.count("\n", 0, match.start()) + 1
        raise CatalogError.at(
            path,
            f"no value for placeholder ${{{name}}} (Flyway refuses it too): give it in the "
            f"folder's MIGRATOR['DIRS'] entry ('placeholders': {{{name!r}: ...}}), or turn "
            "replacement off there ('placeholder_replacement': False)",
            line,
        )

    return _PLACEHOLDER.sub(value_of, text)
