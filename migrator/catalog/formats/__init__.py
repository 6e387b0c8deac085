"""File formats: each module turns the entries of a catalog folder into migrations.

A format is a class with ``name``, ``claim(entry)`` (does this file or folder belong to me,
and as which part of which version) and ``build(parts, database)``. Adding a format is
adding a module and listing it in :data:`FORMATS`.
"""

from __future__ import annotations

from .base import Claim, MigrationFormat
from .dbmate import DbmateFormat
from .flyway import FlywayFormat
from .folder import FolderFormat
from .goose import GooseFormat
from .markers import MarkerSqlFormat
from .paired import PairedFormat
from .python import PythonFormat
from .single_sql import SingleSqlFormat

#: Order matters: the first format to claim an entry gets it.
FORMATS: list[MigrationFormat] = [
    FlywayFormat(),
    PairedFormat(),
    FolderFormat(),
    PythonFormat(),
    SingleSqlFormat(),
]

#: Formats ``migrator create`` can scaffold, by name.
SCAFFOLDS: dict[str, MigrationFormat] = {
    fmt.name: fmt
    for fmt in [
        MarkerSqlFormat(),
        PairedFormat(),
        FolderFormat(),
        DbmateFormat(),
        GooseFormat(),
        FlywayFormat(),
        PythonFormat(),
    ]
}

__all__ = ["FORMATS", "SCAFFOLDS", "Claim", "MigrationFormat"]
