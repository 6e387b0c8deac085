"""Everything the pieces of one deployment's execution share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import prefetch_related_objects

from ..models import Deployment, Run, Step, StepRun
from ..states import Status
from . import rows
from .control import Flags
from .journal import Awaited, Journal
from .policy import Policy
from .progress import Board, Reporter
from .target import Target

if TYPE_CHECKING:
    from .ahead import Ahead
    from .report import DryRunReport


@dataclass
class Runtime:
    deployment: Deployment
    target: Target
    policy: Policy
    journal: Journal
    board: Board
    flags: Flags
    reporter: Reporter | None = None
    report: DryRunReport | None = None
    #: The run being executed (what a pause, cancel or failure applies to).
    current: Run | None = None
    #: Inside an atomic deployment's transaction.
    in_atomic: bool = False
    #: Foreign keys are off for the current run (checked before each step commits).
    foreign_keys_off: bool = False
    #: Rows the current run's finished steps changed.
    rows_done: int = 0
    notes: list[str] = field(default_factory=list)
    #: A run's first step, its statements sent before the run's bookkeeping (see
    #: :mod:`.ahead`), until that step takes it.
    ahead: Ahead | None = None
    #: ``run id -> the run executed right after it``, where that run's first statements
    #: may follow its commit (see :mod:`.ahead`).
    following: dict[int, Run] = field(default_factory=dict)
    #: ``(migration id, step order) -> step id`` of the deployment's migrations.
    _step_keys: dict[tuple[int, int], int] | None = None
    #: ``forward run id -> step orders it skipped``, of the deployment's migrations.
    _skipped: dict[int, set[int]] | None = None

    def step_id(self, migration_id: int, order: int) -> int | None:
        """The catalog row of a migration's step (what a step run refers to), from one
        query for the whole deployment."""
        if self._step_keys is None:
            self._step_keys = {
                (migration, position): key
                for migration, position, key in Step.objects.filter(
                    migration__runs__deployment=self.deployment
                ).values_list("migration_id", "order", "id")
            }
        return self._step_keys.get((migration_id, order))

    def step_id_known(self, migration_id: int, order: int) -> int | None:
        """:meth:`step_id` if the deployment's step keys were read (never a query)."""
        if self._step_keys is None:
            return None
        return self._step_keys.get((migration_id, order))

    def take_ahead(self, run_id: int, order: int, direction: str) -> Ahead | None:
        """The statements sent ahead for this step, if they were (then no longer here)."""
        ahead = self.ahead
        if ahead is None or ahead.run_id != run_id or order != 1 or direction != "forward":
            return None
        self.ahead = None
        return ahead

    def abandon_ahead(self, *, keep_next: bool = False) -> None:
        """Statements sent ahead that no step took: waited for and rolled back
        (``keep_next``: unless they are the next run's, chained to the current one's
        commit, see :mod:`.ahead`)."""
        ahead = self.ahead
        if ahead is None or (keep_next and self._is_next(ahead.run_id)):
            return
        self.ahead = None
        ahead.abandon()

    def _is_next(self, run_id: int) -> bool:
        current = self.current
        return current is not None and run_id != current.pk

    def skipped_steps(self, forward_run_id: int) -> set[int]:
        """The steps a forward run of one of the deployment's migrations skipped (what
        rolling it back skips too), from one query for the whole deployment."""
        if self._skipped is None:
            self._skipped = defaultdict(set)
            for run_id, order in StepRun.objects.filter(
                status=Status.SKIPPED,
                run__direction="forward",
                run__migration__runs__deployment=self.deployment,
            ).values_list("run_id", "step_order"):
                self._skipped[run_id].add(order)
        return self._skipped.get(forward_run_id, set())

    @property
    def deferred(self) -> bool:
        """State is written only after the atomic deployment's transaction commits (when
        that transaction is not on migrator's own database)."""
        return self.in_atomic and not self.target.shares_state

    def flush_in_transaction(
        self,
        *,
        wait_for_disk: bool = True,
        commit: bool = False,
        awaited: Awaited | None = None,
        chain: Any = None,
    ) -> None:
        """At the end of a step's transaction: write the state in it, when it is ours
        (with ``wait_for_disk`` off, unless the whole deployment is one transaction; with
        ``commit``, ending that transaction in the same round trip where it can, the
        next one's statements (``chain``) after it; with ``awaited``, see
        :meth:`Journal.flush`: settled here if nothing was written)."""
        if self.target.shares_state:
            self.journal.flush(
                wait_for_disk=wait_for_disk or self.in_atomic,
                commit=commit and not self.in_atomic,
                awaited=awaited,
                chain=chain,
            )
        if awaited is not None:
            awaited.settle()

    def flush_outside(self) -> None:
        """After a commit (or before work that commits on its own): write the state."""
        # Not into the transaction of statements sent ahead for a step that did not take
        # them (it would be rolled back with them). The next run's, sent with the current
        # one's commit, stay when there is nothing to write.
        self.abandon_ahead(keep_next=not self.journal.pending)
        if not self.deferred:
            self.journal.flush()


def record_follows_work(rt: Runtime, dry_run: bool) -> bool:
    """Whether a step's record is written in its own transaction right after its work,
    with nothing else to run in between (no foreign key check, no dry-run report) and
    committed with it."""
    return (
        rt.target.shares_state
        and not rt.in_atomic
        and not rt.foreign_keys_off
        and rt.report is None
        and not dry_run
    )


def runs_of(deployment: Deployment) -> list[Run]:
    """A deployment's runs in order, with what executing them reads."""
    queryset = deployment.runs.order_by("order")
    runs = rows.load(queryset, "migration")
    # What a run going back restores is its applying run's (its key, and its deployment
    # in run.check_as_planned): that much of it, for all of them in one query.
    backward = [run.migration for run in runs if run.direction == "backward"]
    keys = {migration.applied_run_id for migration in backward if migration.applied_run_id}
    if keys:
        appliers = dict(Run.objects.filter(pk__in=keys).values_list("pk", "deployment_id"))
        for migration in backward:
            key = migration.applied_run_id
            if key in appliers:
                migration._state.fields_cache["applied_run"] = rows.loaded(
                    Run, queryset.db, id=key, deployment_id=appliers[key]
                )
    # A pending run has no step runs (it becomes running in the flush that creates its
    # first one, and never goes back): prefetching costs per run, so only the others.
    prefetch_related_objects([run for run in runs if run.status != Status.PENDING], "step_runs")
    return runs
