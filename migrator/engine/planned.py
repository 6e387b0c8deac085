"""Whether a run's migration is still where its deployment's plan expects it."""

from __future__ import annotations

from ..models import Run
from .errors import RunFailed


class PlanStale(RunFailed):
    """The migration is no longer in the state the plan expected (someone else moved it)."""


def check_as_planned(run: Run) -> None:
    """Raise :class:`PlanStale` unless the migration is where this run expects it.

    The migration's state was loaded when the execution started, under the target lock:
    whatever changes it (a deployment, a baseline, mark-done) refuses while a deployment
    is unfinished, so the loaded state is the current one.
    """
    migration = run.migration
    if migration.repeatable:
        return
    if run.direction == "forward" and migration.applied:
        applier = migration.applied_run
        by = applier.deployment_id if applier is not None else None
        source = f"by deployment #{by}" if by else "(baselined or marked done)"
        raise PlanStale(
            f"{migration.version} is already applied {source}: this deployment's plan is "
            "stale; plan a new one"
        )
    if run.direction == "backward" and not migration.applied:
        raise PlanStale(
            f"{migration.version} is no longer applied: this deployment's plan is stale; "
            "plan a new one"
        )
