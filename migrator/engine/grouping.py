"""Quick migrations committed together where one transaction locks the whole database
anyway (SQLite): group commit.

A SQL migration commits with its record in its own transaction (see :mod:`.step`). On
SQLite every write transaction takes the database's only write lock, whatever it touches,
and readers are never blocked (write-ahead log): so consecutive quick SQL migrations may as
well share one transaction, each in its own savepoint. What a commit costs there (the
pages the migration and its record changed, written to the log again for each migration)
is then paid once per group instead of once per migration.

Nothing else changes: a migration's work and its record still commit together, never one
without the other; a failing migration rolls back to its own savepoint, and the ones
before it in the group commit before the failure is handled, as they would have alone.
A group that cannot commit (a deferred foreign key violated, which SQLite checks only at
the commit; a transaction the database ended itself) is rolled back whole and
:class:`GroupLost` raised: the engine then runs its migrations again one by one, so each
failure is the failing migration's own, as without groups.
What a group trades is a moment (``GROUP_COMMIT_SECONDS``, 0.1 s by default): a worker
killed meanwhile loses the group's migrations with their records, and resuming runs them
again; other writers (the console's pause button, the worker's heartbeat) wait for the
lock, which is left free for a tenth of that moment after each group (they try every
millisecond: SQLite's own busy handler, up to 100 ms between tries, would miss it). A
pause or cancel asked meanwhile is seen as the next group opens, before its migrations.

A migration joins a group only if all it does is SQL in its transaction (no Python step,
which may act outside the database; no script outside a transaction; foreign keys on; no
backup to take first; no retry that would sleep holding the lock), in a deployment that
is neither a dry run nor all-or-nothing, with migrator's tables in the target database.
``DURABLE_STEPS`` (each step on disk when it ends) turns groups off, as does
``GROUP_COMMIT_SECONDS = 0``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError

from ..conf import migrator_settings
from ..states import Status
from . import backups
from .behind import Behind
from .errors import RunFailed
from .kinds import WayBack, kind_for
from .specs import load_spec
from .step import SELF_CONTAINED

if TYPE_CHECKING:
    from ..catalog import MigrationSpec
    from ..models import Run
    from .runtime import Runtime


#: Of a group's moment, how long the lock is left free after it for other writers.
_YIELD = 0.1


class GroupLost(Exception):
    """The group's transaction ended without committing (the database rolled it back, or
    its commit failed): its migrations are undone with their records."""


class CommitGroup:
    """The open group of a deployment's runs, if any: :meth:`before` each run, :meth:`end`
    once they stop (with what stopped them, if anything did)."""

    def __init__(self, rt: Runtime, *, allowed: bool = True) -> None:
        self.rt = rt
        self.window = float(migrator_settings.GROUP_COMMIT_SECONDS)
        self.enabled = (
            allowed
            and self.window > 0
            and rt.target.dialect.groups_commits
            and rt.target.shares_state
            and not migrator_settings.DURABLE_STEPS
            and not rt.policy.dry_run
            and not rt.policy.atomic
            and rt.report is None
        )
        self._atomic: Any = None
        self._behind: Behind | None = None
        self._opened = 0.0
        #: Runs in the open group.
        self.runs = 0

    def before(self, run: Run) -> MigrationSpec | None:
        """Commit the open group unless ``run`` may join it (and its moment is not over);
        open one if ``run`` may join one. Returns the run's migration as read from the
        catalog, when it was read to decide (the run need not read it again)."""
        spec = self._spec(run) if self.enabled else None
        joins = spec is not None and joinable(self.rt, run, spec)
        if self._atomic is not None and not joins:
            self.commit()
        elif self._atomic is not None and time.monotonic() - self._opened >= self.window:
            self.commit()
            # Others wait for the lock (the console's pause, the heartbeat), trying again
            # every millisecond (the SQLite dialect's atomic): their moment.
            time.sleep(self.window * _YIELD)
        if joins and self._atomic is None:
            atomic = self.rt.target.atomic()
            atomic.__enter__()
            self._atomic, self._opened = atomic, time.monotonic()
            # The runs' records are written together before the group commits.
            self._behind = self.rt.journal.behind = Behind(self.rt.target.work_alias)
            # Nobody else can write while the group is open: a pause or cancel asked
            # before it is seen now, before any of its migrations, not up to
            # ``Flags.interval`` later.
            self.rt.flags.check(force=True)
        if joins:
            self.runs += 1
        return spec

    def commit(self, *, interrupted: bool = False) -> None:
        """Commit the open group; :class:`GroupLost` if it cannot (it is rolled back).
        ``interrupted``: a step was stopped midway, and the rows it staged are not its
        group's (its savepoint was rolled back)."""
        atomic, self._atomic = self._atomic, None
        count, self.runs = self.runs, 0
        if atomic is None:
            return
        try:
            try:
                self._drop_behind(write=True, sealed_only=interrupted)
            except BaseException as error:
                atomic.__exit__(type(error), error, error.__traceback__)
                raise
            atomic.__exit__(None, None, None)
        except DatabaseError as error:  # Django rolled it back
            raise GroupLost(_lost(count, error)) from error

    def _drop_behind(self, *, write: bool, sealed_only: bool = False) -> None:
        behind, self._behind = self._behind, None
        if behind is None:
            return
        self.rt.journal.behind = None
        try:
            if write:
                behind.write(sealed_only=sealed_only)
        finally:
            behind.close()

    def end(self, error: BaseException | None = None) -> None:
        """The runs stopped (``error``: what stopped them): what the group's finished runs
        did commits, as it would have run by run. If the group's transaction is no longer
        whole, it is rolled back and :class:`GroupLost` raised (from ``error``), unless the
        process is being stopped (``KeyboardInterrupt``, ``SystemExit``)."""
        atomic = self._atomic
        if atomic is None:
            return
        if error is None:
            self.commit()
            return
        # Staged rows written inside a step that then failed were rolled back with it.
        tainted = self._behind is not None and self._behind.tainted
        if self.rt.target.dialect.transaction_intact() and not tainted:
            self.commit(interrupted=True)
            return
        self._drop_behind(write=False)
        count, self._atomic, self.runs = self.runs, None, 0
        atomic.__exit__(type(error), error, error.__traceback__)
        if isinstance(error, Exception):  # not an interrupt of the process: run them again
            raise GroupLost(_lost(count, error)) from error

    def _spec(self, run: Run) -> MigrationSpec | None:
        if run.status != Status.PENDING:
            return None  # resumed: its known step runs are the run's to sort out
        try:
            return load_spec(run.migration, run.direction)
        except RunFailed:
            return None  # the run raises it itself, outside any group


def _lost(count: int, error: BaseException) -> str:
    return (
        f"{count} migration(s) run together in one transaction were rolled back with it "
        f"({type(error).__name__}: {error}); running them again one by one"
    )


def joinable(rt: Runtime, run: Run, spec: MigrationSpec) -> bool:
    """Whether all ``run`` does is SQL in its own transaction, with nothing to do first
    that a transaction cannot hold."""
    if not spec.steps or not run.migration.options.get("foreign_keys", True):
        return False
    if run.direction == "forward" and backups.planned_mode(rt, run) != "off":
        return False
    dialect = rt.target.dialect
    for step in spec.steps:
        kind = kind_for(step.kind)
        if (
            step.kind not in SELF_CONTAINED
            or not kind.transactional_for(step, run.direction)
            or step.options.get("on_error", "fail") != "fail"
            or rt.policy.obstacle(kind, step, dialect, run.direction)
        ):
            return False
        # A step with no way back makes a rollback restore a backup instead.
        if run.direction == "backward" and kind.way_back(step, False) is WayBack.NONE:
            return False
    return True
