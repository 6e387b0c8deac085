"""Declaring migrations in Python, in the spirit of Django's own migration files.

A file ``datamigrations/1.1.0_rename_memory.py`` contains::

    from migrator import dsl

    class Migration(dsl.Migration):
        description = "Rename maxMemoryMB to maxMemoryBytes"
        steps = [
            dsl.Transform(
                table="sample_tenant",
                key="id",
                set={"config": {"sqlite": "...", "postgresql": "..."}},
                where="...",
            ),
            dsl.Validate("SELECT id FROM sample_tenant WHERE ..."),
        ]

Step classes only describe work; the engine executes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: An SQL expression, or one per database vendor ({"sqlite": ..., "postgresql": ...}).
VendorSQL = str | dict[str, str]


class Step:
    """Base class of declared steps."""

    kind = ""

    def __init__(self, *, name: str = "", validation: str = "", **options: Any):
        self.name = name
        self.validation = validation
        self.options = options

    def declaration(self, vendor: str) -> dict[str, Any]:
        """For step kinds added by a project: the stored ``forward``, ``backward`` (text)
        and ``options`` of this step on ``vendor`` (the built-in kinds are read directly)."""
        raise NotImplementedError(f"{type(self).__name__} declares no step of its kind")


class RunSQL(Step):
    """Forward SQL and optional backward SQL; ``transaction=False`` for e.g. CONCURRENTLY."""

    kind = "sql"

    def __init__(self, forward: VendorSQL, backward: VendorSQL = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.forward = forward
        self.backward = backward


class RunPython(Step):
    """``forward(ctx)`` and optional ``backward(ctx)``: callables or dotted paths."""

    kind = "python"

    def __init__(
        self,
        forward: Callable[..., Any] | str,
        backward: Callable[..., Any] | str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.forward = forward
        self.backward = backward


class Transform(Step):
    """A batched, resumable change of columns of one table, iterated by key range.

    ``set`` maps each changed column to an SQL expression over the row (or a dict of
    expressions per vendor). The old values of those columns are captured per batch, so a
    rollback restores them exactly.
    """

    kind = "transform"

    def __init__(
        self,
        *,
        table: str,
        set: dict[str, VendorSQL],  # noqa: A002 - mirrors SQL's SET
        key: str = "id",
        where: VendorSQL = "",
        batch_size: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.table = table
        self.set = set
        self.key = key
        self.where = where
        self.batch_size = batch_size


class Validate(Step):
    """A query that must return no rows, or a single true value."""

    kind = "validate"

    def __init__(self, query: VendorSQL, **kwargs: Any):
        super().__init__(**kwargs)
        self.query = query


class Migration:
    """Base class of migrations declared in Python."""

    description: str = ""
    author: str = ""
    kind: str = ""
    depends_on: list[str] | None = None
    release: str = ""
    risk: str = "low"
    requires_downtime: bool = False
    #: SQLite: run this migration with foreign keys off (its table-rebuild pattern needs it).
    foreign_keys: bool = True
    #: Upgrade paths must stop at this version (e.g. it needs a deploy of the application).
    stop: bool = False
    steps: list[Step] = []
