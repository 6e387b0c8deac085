"""The catalog: migrations found on disk, parsed, checksummed and checked as a whole."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CatalogError, CatalogProblem
from .spec import MigrationSpec, StepSpec

if TYPE_CHECKING:
    from .loader import Catalog, load_catalog

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogProblem",
    "MigrationSpec",
    "StepSpec",
    "load_catalog",
]


def __getattr__(name: str) -> Any:
    """The loader (and the readers it imports) on first use: the admin names
    ``CatalogError`` at import, and every management command of a host loads the admin."""
    if name in ("Catalog", "load_catalog"):
        value = getattr(importlib.import_module(".loader", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
