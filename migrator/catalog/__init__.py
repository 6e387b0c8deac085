"""The catalog: migrations found on disk, parsed, checksummed and checked as a whole."""

from .errors import CatalogError, CatalogProblem
from .loader import Catalog, load_catalog
from .spec import MigrationSpec, StepSpec

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogProblem",
    "MigrationSpec",
    "StepSpec",
    "load_catalog",
]
