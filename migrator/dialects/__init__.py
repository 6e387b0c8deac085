"""Database dialects: one class per supported backend, chosen by the connection's vendor.

``dialect_for(alias_or_connection)`` is the only way the rest of migrator learns what a
database can do. A backend without a dialect is refused by system check ``migrator.E007``
before any work starts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from .base import OWN_PREFIX, Batch, Dialect, NotSupported, Statement
from .batches import CHECKPOINT_TABLE
from .postgresql import PostgreSQLDialect
from .sqlite import SQLiteDialect

#: Supported backends by ``connection.vendor``; adding one is adding a module here.
DIALECTS: dict[str, type[Dialect]] = {
    PostgreSQLDialect.vendor: PostgreSQLDialect,
    SQLiteDialect.vendor: SQLiteDialect,
}


class UnsupportedDatabase(NotSupported):
    """The database alias uses a backend migrator has no dialect for."""


def dialect_for(target: str | BaseDatabaseWrapper) -> Dialect:
    """The dialect of a database alias or connection."""
    connection = connections[target] if isinstance(target, str) else target
    try:
        return DIALECTS[connection.vendor](connection)
    except KeyError:
        raise UnsupportedDatabase(
            f"database {connection.alias!r} uses {connection.vendor}, which migrator does not "
            f"support (supported: {', '.join(sorted(DIALECTS))})"
        ) from None


def state_alias() -> str:
    """The database alias migrator's own rows are written to."""
    from django.apps import apps
    from django.db import router

    return str(router.db_for_write(apps.get_model("migrator", "Deployment")))


def state_atomic(savepoint: bool = True) -> Any:
    """A transaction on migrator's own database (beginning with its write lock on SQLite)."""
    return dialect_for(state_alias()).atomic(savepoint=savepoint)


@lru_cache(maxsize=8192)
def split_statements(vendor: str, script: str) -> tuple[Statement, ...]:
    """``script`` split as ``vendor``'s own parser would, once per process (scripts repeat
    across plans, runs and dry runs)."""
    return tuple(DIALECTS.get(vendor, Dialect).split(script))


def is_supported(alias: str) -> bool:
    return connections[alias].vendor in DIALECTS


__all__ = [
    "CHECKPOINT_TABLE",
    "DIALECTS",
    "OWN_PREFIX",
    "Batch",
    "Dialect",
    "NotSupported",
    "Statement",
    "UnsupportedDatabase",
    "dialect_for",
    "is_supported",
    "split_statements",
    "state_alias",
    "state_atomic",
]
