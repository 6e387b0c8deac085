"""The cursor of migrator's own writes on PostgreSQL, in a module of its own: psycopg is
an optional extra (``django-migrator[postgres]``), imported only once a PostgreSQL
connection needs it."""

from __future__ import annotations

from typing import Any

import psycopg


class BookkeepingCursor(psycopg.Cursor[Any]):
    """A server-side binding cursor preparing what it executes (or never, if told)."""

    def __init__(self, connection: Any, *, prepare: bool):
        super().__init__(connection)
        self._prepare = prepare

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        options.setdefault("prepare", self._prepare)
        return super().execute(query, params, **options)
