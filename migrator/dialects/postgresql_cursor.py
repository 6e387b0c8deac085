"""The cursor of migrator's own writes on PostgreSQL, in a module of its own: psycopg is
an optional extra (``django-migrator[postgres]``), imported only once a PostgreSQL
connection needs it."""

from __future__ import annotations

from typing import Any

import psycopg

#: A prepare threshold no query reaches by repetition alone: set while migrator's own
#: statements are prepared on a connection whose owner prepares nothing (Django's default).
NEVER_BY_ITSELF = 2**31 - 1


def watch(connection: Any) -> bool:
    """Give ``connection`` a prepare threshold if it has none (then psycopg prepares what
    it is asked to, and watches every query for what deallocates); True if this set it."""
    if connection.prepare_threshold is not None:
        return False
    connection.prepare_threshold = NEVER_BY_ITSELF
    return True


class BookkeepingCursor(psycopg.Cursor[Any]):
    """A server-side binding cursor preparing what it executes (or never, if told).

    psycopg prepares only while the connection has a prepare threshold; Django's default
    is none. The cursor sets one (that no query reaches by repetition) while it is open,
    and takes it away again when it closes: with a threshold, psycopg also watches every
    other query on the connection, and after each ``ALTER`` or ``DROP`` (most migrations
    run some) it deallocates every prepared statement, so the next flush would prepare
    its six statements again. PostgreSQL itself re-plans a prepared statement whose
    tables changed, and migrator's statements return no rows whose shape could change."""

    def __init__(self, connection: Any, *, prepare: bool):
        super().__init__(connection)
        self._prepare = prepare
        self._threshold_ours = prepare and watch(connection)

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        options.setdefault("prepare", self._prepare)
        return super().execute(query, params, **options)

    def close(self) -> None:
        super().close()
        if self._threshold_ours and self.connection.prepare_threshold == NEVER_BY_ITSELF:
            self.connection.prepare_threshold = None
            self._threshold_ours = False
