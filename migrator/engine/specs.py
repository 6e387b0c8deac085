"""The migrations a deployment runs, read from disk once per execution and checked
against what was planned (or applied): a file changed since then is refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from .errors import RunFailed

if TYPE_CHECKING:
    from ..catalog import Catalog, MigrationSpec
    from ..models import Migration

#: The catalog read once per execution (re-reading it per run made long deployments quadratic).
_execution_catalog: ContextVar[Catalog | None] = ContextVar("migrator_catalog", default=None)


@contextmanager
def one_catalog() -> Iterator[None]:
    """Read the catalog once for everything executed inside this block (unless the block
    is inside :func:`planned_catalog`)."""
    from ..catalog import load_catalog

    if _execution_catalog.get() is not None:
        yield
        return
    with planned_catalog(load_catalog()):
        yield


@contextmanager
def planned_catalog(catalog: Catalog) -> Iterator[None]:
    """Executions inside this block (inline: same thread, right after their plan) use
    ``catalog``, the one their plan was made from, instead of reading the folders again."""
    token = _execution_catalog.set(catalog)
    try:
        yield
    finally:
        _execution_catalog.reset(token)


def load_spec(migration: Migration, direction: str) -> MigrationSpec:
    """The migration from disk, refused if it changed since it was planned or applied."""
    from ..catalog import checksum as checksums
    from ..catalog import load_catalog

    catalog = _execution_catalog.get() or load_catalog()
    spec = catalog.get(migration.database, migration.version)
    if spec is None:
        raise RunFailed(
            f"{migration.version}: its file is gone from the catalog ({migration.source})"
        )
    backward = direction != "forward"
    expected = migration.applied_checksum if backward and migration.applied else migration.checksum
    if expected and not checksums.matches(expected, spec.parts):
        raise RunFailed(
            f"{migration.version}: {spec.source} changed since it was "
            f"{'applied' if backward else 'planned'}; verify and plan again"
        )
    return spec
