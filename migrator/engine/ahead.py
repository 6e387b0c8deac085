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

Going further, when one such run follows another with nothing in between (no schema to
record after the first: ``Runtime.following``), the next run's statements are sent *with*
the previous run's commit, in the same round trip (:func:`chain_next`): after its
COMMIT and a sync, so they begin a transaction of their own whatever becomes of that
commit. The server goes from one migration to the next without waiting for the client,
which meanwhile reads the commit's result and does the next run's bookkeeping. If that
commit fails, its run fails as it would have, and the next run's statements are read and
rolled back first. Such transactions are begun and ended by migrator below Django's
``Atomic`` (``Dialect.begin_script``, :mod:`migrator.dialects.postgresql_transaction`),
which cannot end a transaction while the next one's statements are in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dialects import split_statements
from ..states import Status
from . import backups
from .errors import RunFailed
from .execution import where_of
from .kinds import kind_for
from .kinds.sql import SqlKind
from .runtime import record_follows_work
from .specs import load_spec
from .sql import SentStatements

if TYPE_CHECKING:
    from ..catalog import MigrationSpec
    from ..dialects.base import Dialect, Statement
    from ..models import Run
    from .runtime import Runtime


@dataclass
class Ahead:
    """The first step of run ``run_id``: its statements running in a transaction of their
    own (``transaction``, entered by the step that takes them: see
    ``Dialect.begin_script``)."""

    run_id: int
    transaction: Any
    sent: SentStatements
    dialect: Dialect
    #: The run's migration as read to send them (the run need not read it again).
    spec: MigrationSpec
    done: bool = False

    def take(self) -> Any:
        """The step's transaction, to be entered and left by the step (committed with its
        record)."""
        self.done = True
        return self.transaction

    def abandon(self) -> None:
        """Not taken by its step: wait for the statements, roll them back."""
        if self.done:
            return
        self.done = True
        try:
            self.sent.end()
        finally:
            self.dialect.release_script()


def send_ahead(rt: Runtime, run: Run, spec: MigrationSpec, *, controllable: bool) -> Ahead | None:
    """Begin the first step's transaction and send its statements, if it is such a step
    (see the module); None, having sent nothing, otherwise."""
    statements = _eligible(rt, run, spec)
    if statements is None:
        return None
    # What the bookkeeping until the step asks the database, asked now.
    if controllable:
        rt.flags.check(allow_pause=True)
    step = spec.steps[0]
    rt.step_id(run.migration_id, 1)
    dialect = rt.target.dialect
    begun = dialect.begin_script(statements)
    if begun is None:
        return None
    transaction, sent = begun
    where = where_of(run.migration.version, 1, step.name)
    return Ahead(
        run.pk, transaction, SentStatements(dialect, statements, where, sent), dialect, spec
    )


def chain_next(rt: Runtime, run: Run, *, controllable: bool) -> Chained | None:
    """The next run's first statements, to be sent right after ``run``'s commit (in the
    same round trip), if that run follows it (``Runtime.following``) and may send them
    ahead without asking the database anything first; None otherwise. Called while
    ``run``'s own statements run: nothing here uses the connection."""
    following = rt.following.get(run.pk)
    if following is None or (controllable and rt.flags.due()):
        return None
    migration = following.migration
    if rt.step_id_known(migration.pk, 1) is None or (
        migration.applied and not migration.repeatable  # stale: refused when it starts
    ):
        return None
    try:
        spec = load_spec(migration, following.direction)
    except RunFailed:
        return None  # (raised again when that run starts, as without a chain)
    statements = _eligible(rt, following, spec)
    if statements is None:
        return None
    chain = rt.target.dialect.chain_script(statements)
    if chain is None:
        return None
    return Chained(following, spec, statements, chain)


@dataclass
class Chained:
    """The next run's first statements, as :func:`chain_next` prepared them."""

    run: Run
    spec: MigrationSpec
    statements: tuple[Statement, ...]
    #: What the dialect's ``commit_with`` sends after the COMMIT.
    chain: Any

    def sent(self, rt: Runtime) -> Ahead | None:
        """Once the commit they followed was sent: the next run's :class:`Ahead`."""
        dialect = rt.target.dialect
        begun = dialect.chained(self.chain)
        if begun is None:
            return None
        transaction, sent = begun
        where = where_of(self.run.migration.version, 1, self.spec.steps[0].name)
        sent_statements = SentStatements(dialect, self.statements, where, sent)
        return Ahead(self.run.pk, transaction, sent_statements, dialect, self.spec)


def _eligible(rt: Runtime, run: Run, spec: MigrationSpec) -> tuple[Statement, ...] | None:
    """The first step's statements, if they may be sent ahead (see the module)."""
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
    statements = tuple(split_statements(dialect.vendor, step.forward))
    keeper = dialect.session_keeper(statements)
    if not kind.nothing_between(step, bool(step.validation), keeper):
        return None
    return statements
