"""File formats: each module turns entries of a catalog folder into migrations.

A format is a class with ``name``, ``claim(entry, ctx)`` (does this file or folder belong
to me, and as which part of which version) and ``build(claims, ctx)``. Which formats read a
folder is its flavor's business (:mod:`migrator.catalog.flavors`).
"""

from __future__ import annotations

from .atlas import AtlasFormat
from .base import Claim, MigrationFormat, ReadContext
from .flyway import FlywayFormat
from .folder import FolderFormat
from .paired import PairedFormat
from .python import PythonFormat
from .single_sql import (
    DbmateFormat,
    GoGooseFormat,
    GooseFormat,
    MarkerSqlFormat,
    SingleSqlFormat,
)

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

__all__ = [
    "SCAFFOLDS",
    "AtlasFormat",
    "Claim",
    "FlywayFormat",
    "FolderFormat",
    "GoGooseFormat",
    "MigrationFormat",
    "PairedFormat",
    "PythonFormat",
    "ReadContext",
    "SingleSqlFormat",
]
