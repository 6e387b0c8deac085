"""A commit group's records written together before it commits (SQLite): write-behind.

SQLite compiles every prepared statement again after a schema change, and in a group of
quick migrations each one changes the schema: each migration's record (a step run, its
run, its migration, their history rows, its events: six statements) was compiled again
for it, 30 to 90 microseconds a statement against 12 to 18 once compiled. Staged while
the group runs and written before its commit, the same rows cost one compile per
statement per group.

Nothing else changes: the rows are the journal's, with the values they had when it was
flushed, written in the group's transaction before it commits, so a migration and its
record still commit together or not at all. What that takes:

- Rows staged inside a step's transaction (a savepoint of the group's) count once that
  savepoint is released (:meth:`Behind.seal`); if the step fails, the journal takes
  them back with its memento (:meth:`Behind.truncate`); if the process is interrupted
  meanwhile, the group commits without them, as the database has rolled the step back.
- Any statement on the connection that names a table with staged rows (the engine
  reading its records, a migration's own SQL) finds them written first. Written inside
  a step's savepoint, they would be rolled back with it if the step failed: the group is
  then not committed after a failure but rolled back whole (its migrations run again one
  by one, see :mod:`.grouping`).
- Keys for new rows (a step run, which events refer to) are handed out from the table's
  sequence as it will be once the staged rows are in: nobody else writes meanwhile (the
  group holds SQLite's write lock).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models

from ..dialects import dialect_for
from . import rows

#: Keys reserved at once for a model's new rows in a group.
_KEY_BLOCK = 256

#: A staged row: ``(model, key, values)``; ``key`` is ``(True/False: with its primary
#: key)`` for an insert (values: a list), the row's primary key for an update (values: a
#: dict of attributes).
_Insert = tuple[type[models.Model], bool, list[Any]]
_Update = tuple[type[models.Model], Any, dict[str, Any]]


class Behind:
    """Rows of one group's transaction on ``alias``, written by :meth:`write` (and before
    any statement that names their tables)."""

    def __init__(self, alias: str):
        self.alias = alias
        self.dialect = dialect_for(alias)
        self.connection = self.dialect.connection
        #: Staged, not yet written: inserts and updates in the order they were staged.
        self._log: list[tuple[bool, _Insert | _Update]] = []
        #: Entries written or dropped before the log's first (positions are absolute).
        self._base = 0
        #: Up to this position, the entries' transaction is the group's own.
        self._sealed = 0
        self._tables: set[str] = set()
        #: Finds a name of those tables in a statement (SQLite's names ignore case).
        self._names = re.compile("(?!)")
        self._pools: dict[type[models.Model], list[int]] = {}
        self._highest: dict[type[models.Model], int] = {}
        #: The depth of Django's atomic blocks that is the group's own.
        self._depth = len(self.connection.atomic_blocks)
        self._writing = False
        #: Staged rows were written inside a step's savepoint (see the module's notes).
        self.tainted = False
        self.connection.execute_wrappers.append(self._before_statement)

    # -- staging --------------------------------------------------------------------

    def insert(self, objs: Sequence[models.Model], *, keys: bool = True) -> None:
        """Stage ``objs`` (all of one model); with ``keys``, rows without one get one."""
        if not objs:
            return
        model = type(objs[0])
        if keys:
            self._give_keys(model, objs)
        for with_pk, values in rows.insert_values(self.alias, objs):
            self._stage(True, (model, with_pk, values), model)

    def update(self, obj: models.Model, names: set[str]) -> None:
        """Stage the named fields of ``obj``'s row, with their values now."""
        model = type(obj)
        self._stage(False, (model, obj.pk, rows.update_values(self.alias, obj, names)), model)

    def _stage(self, inserting: bool, entry: _Insert | _Update, model: type[models.Model]) -> None:
        self._log.append((inserting, entry))
        table = model._meta.db_table
        if table not in self._tables:
            self._tables.add(table)
            self._names = re.compile("|".join(map(re.escape, self._tables)), re.IGNORECASE)
        if len(self.connection.atomic_blocks) <= self._depth:
            self.seal()

    def _give_keys(self, model: type[models.Model], objs: Sequence[models.Model]) -> None:
        unkeyed = [obj for obj in objs if obj.pk is None]
        if not unkeyed:
            return
        pool = self._pools.setdefault(model, [])
        if len(pool) < len(unkeyed):
            with self._unseen():
                reserved = self.dialect.keys_for_transaction(
                    model._meta.db_table, str(model._meta.pk.column), len(unkeyed) + _KEY_BLOCK
                )
            assert reserved is not None  # inside the group's transaction
            # The table does not have the staged rows yet: after them.
            start = max(reserved[0], self._highest.get(model, 0) + 1)
            pool[:] = range(start, start + len(reserved))
        for obj in unkeyed:
            obj.pk = pool.pop(0)
            self._highest[model] = max(self._highest.get(model, 0), obj.pk)

    # -- the step's savepoint ---------------------------------------------------------

    def mark(self) -> int:
        """The position a :meth:`truncate` goes back to."""
        return self._base + len(self._log)

    def seal(self) -> None:
        """What is staged so far belongs to the group's transaction (the savepoint it was
        staged in was released)."""
        self._sealed = self._base + len(self._log)

    def truncate(self, mark: int) -> None:
        """Forget what was staged after ``mark`` and not sealed (its savepoint was rolled
        back)."""
        keep = max(mark, self._sealed) - self._base
        del self._log[max(keep, 0) :]

    # -- writing --------------------------------------------------------------------

    def write(self, *, sealed_only: bool = False) -> None:
        """Write what is staged (``sealed_only``: only what belongs to the group's own
        transaction) into the current transaction."""
        count = self._sealed - self._base if sealed_only else len(self._log)
        entries, self._log = self._log[: max(count, 0)], []
        self._base = self._sealed = self._base + len(entries)
        if entries:
            self._write(entries)

    def close(self) -> None:
        """Stop watching the connection's statements (staged rows not written are lost)."""
        self._log.clear()
        if self._before_statement in self.connection.execute_wrappers:
            self.connection.execute_wrappers.remove(self._before_statement)

    def _write(self, entries: list[tuple[bool, _Insert | _Update]]) -> None:
        inserts: dict[tuple[type[models.Model], bool], list[list[Any]]] = {}
        updates: dict[tuple[type[models.Model], Any], dict[str, Any]] = {}
        for inserting, (model, key, values) in entries:
            if inserting:
                inserts.setdefault((model, key), []).append(values)  # type: ignore[arg-type]
            else:
                updates.setdefault((model, key), {}).update(values)
        # Rows keep their order within a table; new rows go in before any update, which
        # changes only rows that exist by then (an update of a staged row came after its
        # insert); the updates of one row are merged, the later value winning.
        shapes: dict[tuple[type[models.Model], frozenset[str]], list[Any]] = {}
        for (model, key), values in updates.items():
            shapes.setdefault((model, frozenset(values)), []).append((key, values))
        self._writing = True
        try:
            with self.dialect.bookkeeping_cursor() as cursor:
                for (model, with_pk), values_list in inserts.items():
                    rows.insert_rows(cursor, self.alias, model, values_list, with_pk=with_pk)
                for (model, _), keyed in shapes.items():
                    rows.update_rows(cursor, self.alias, model, keyed)
        finally:
            self._writing = False

    # -- statements that need the rows ------------------------------------------------

    def _before_statement(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if self._log and not self._writing and self._names.search(sql):
            if len(self.connection.atomic_blocks) > self._depth:
                self.tainted = True
            self.write()
        return execute(sql, params, many, context)

    @contextmanager
    def _unseen(self) -> Iterator[None]:
        """Statements that do not need the staged rows (the keys' own query)."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
