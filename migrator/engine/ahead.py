"""A run's first SQL statements sent before the run's bookkeeping, where the server can
run them meanwhile (PostgreSQL).

Before a step's statements reach the server the engine does a few hundred microseconds
of bookkeeping that never touches the database: the run and the step start, the step run
is made, the execution is set up. For a fresh forward run whose first step is a plain SQL
script whose record follows it in the same transaction (what lets that record be built
while the script runs: see ``SqlKind`` and ``step._attempt``), the step's transaction is
begun and its statements sent *first*, so the server runs them during that bookkeeping;
the step then takes them as its own instead of sending them.

Nothing in between may use the connection (a query would wait for the script and raise
its failure in the wrong place): what the bookkeeping would ask the database (the pause
and cancel flags, the catalog's step keys) is asked before sending. If anything fails in
between, or the step does not run after all, the statements are waited for and rolled
back with their transaction before anything else uses the connection (:meth:`abandon`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..dialects import split_statements
from ..states import Status
from . import backups
from .execution import where_of
from .kinds import kind_for
from .kinds.sql import SqlKind
from .sql import SentStatements, send_statements
from .step import record_follows_work

if TYPE_CHECKING:
    from ..catalog import MigrationSpec
    from ..models import Run
    from .runtime import Runtime


class _Abandoned(Exception):
    """What the transaction of statements sent ahead is ended with when not taken."""


class _Begun:
    """The step's transaction, already begun: leaving it ends it as Django's block would."""

    def __init__(self, atomic: Any) -> None:
        self._atomic = atomic

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._atomic.__exit__(kind, error, trace)


@dataclass
class Ahead:
    """The first step of run ``run_id``: its transaction begun, its statements running."""

    run_id: int
    atomic: Any
    sent: SentStatements
    done: bool = False

    def transaction(self) -> _Begun:
        """The step's transaction, to be left by the step (committed with its record)."""
        self.done = True
        return _Begun(self.atomic)

    def abandon(self) -> None:
        """Not taken by its step: wait for the statements, roll them back."""
        if self.done:
            return
        self.done = True
        try:
            self.sent.end()
        finally:
            self.atomic.__exit__(_Abandoned, _Abandoned(), None)


def send_ahead(rt: Runtime, run: Run, spec: MigrationSpec, *, controllable: bool) -> Ahead | None:
    """Begin the first step's transaction and send its statements, if it is such a step
    (see the module); None, having sent nothing, otherwise."""
    dialect = rt.target.dialect
    if (
        not dialect.sends_scripts
        or dialect.connection.queries_logged  # (never sent whole then: see send_script)
        or run.status != Status.PENDING
        or run.direction != "forward"
        or not spec.steps
    ):
        return None
    step = spec.steps[0]
    kind = kind_for(step.kind)
    if (
        not isinstance(kind, SqlKind)
        or not kind.transactional_for(step, "forward")
        or rt.policy.obstacle(kind, step, dialect, "forward")
        or not record_follows_work(rt, rt.policy.dry_run)
        or not run.migration.options.get("foreign_keys", True)
        or backups.planned_mode(rt, run) != "off"
    ):
        return None
    statements = split_statements(dialect.vendor, step.forward)
    keeper = dialect.session_keeper(statements)
    if not kind.nothing_between(step, bool(step.validation), keeper):
        return None
    # What the bookkeeping until the step asks the database, asked now.
    if controllable:
        rt.flags.check(allow_pause=True)
    rt.step_id(run.migration_id, 1)
    atomic = rt.target.atomic()
    atomic.__enter__()
    try:
        sent = send_statements(dialect, statements, where_of(run.migration.version, 1, step.name))
    except BaseException as error:
        atomic.__exit__(type(error), error, error.__traceback__)
        raise
    if sent is None:
        atomic.__exit__(None, None, None)  # nothing was sent: an empty transaction
        return None
    return Ahead(run.pk, atomic, sent)
