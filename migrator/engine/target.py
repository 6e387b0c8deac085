"""The target database as the engine sees it: where its work runs, and its dialect.

``alias`` names the target (locks, state rows, messages). ``work_alias`` is the connection
the steps run on: the target's own connection for live runs, or a throwaway connection
(a rolled-back transaction, or a scratch copy) for dry runs.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ..dialects import Dialect, dialect_for


class Target:
    """One target database alias, and the connection its work runs on."""

    def __init__(self, alias: str, work_alias: str | None = None):
        self.alias = alias
        self.work_alias = work_alias or alias
        self._dialect: Dialect | None = None
        #: ``(thread, connection)``: the last lookup, kept for the thread that made it.
        self._connection: tuple[int, BaseDatabaseWrapper] | None = None

    def working_on(self, work_alias: str) -> Target:
        return Target(self.alias, work_alias)

    @property
    def connection(self) -> BaseDatabaseWrapper:
        # Django's connections are per thread: looked up once per thread that asks (an
        # execution asks about ten times per migration; each lookup goes through
        # asgiref's thread-and-task-local storage).
        thread = threading.get_ident()
        known = self._connection
        if known is not None and known[0] == thread:
            return known[1]
        connection = connections[self.work_alias]
        self._connection = (thread, connection)
        return connection

    @property
    def dialect(self) -> Dialect:
        """The dialect of the work connection, kept while that connection is this
        thread's: what it learns about the target (its checkpoint table exists) is then
        asked once per plan or execution instead of once per step."""
        connection = self.connection
        if self._dialect is None or self._dialect.connection is not connection:
            self._dialect = dialect_for(connection)
        return self._dialect

    @cached_property
    def shares_state(self) -> bool:
        """Whether the work connection is the one migrator's own rows are written on: then
        a step's result commits in the step's own transaction."""
        from ..models import Run

        return self.work_alias == router.db_for_write(Run)

    def quote(self, name: str) -> str:
        return self.dialect.quote(name)

    def atomic(self) -> Any:
        return self.dialect.atomic()

    def execute(self, sql: str, params: Any = None) -> int:
        return self.dialect.execute(sql, params)

    def scalar(self, sql: str, params: Any = None) -> Any:
        return self.dialect.scalar(sql, params)

    def table_exists(self, name: str) -> bool:
        return self.dialect.table_exists(name)

    @staticmethod
    def capture_table(run_id: int, order: int, table: str, number: int = 1) -> str:
        """Name of the ``number``-th table of old values captured by one step of one forward
        run (one per table and set of columns: a step may capture several)."""
        safe = "".join(c if c.isalnum() else "_" for c in table.lower())[:30]
        suffix = "" if number == 1 else f"c{number}_"
        return f"migrator_cap_r{run_id}_s{order}_{suffix}{safe}"
