"""Live runs and dry runs: one executor, two policies (as Django's executor has
``collect_sql``). A policy says where the work runs and what a run's end records."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from ..dialects import Dialect, dialect_for
from ..models import Deployment
from .kinds import StepKind

if TYPE_CHECKING:
    from ..catalog import StepSpec

_clones = itertools.count(1)


@dataclass(frozen=True)
class Policy:
    """How a deployment's steps are executed."""

    dry_run: bool = False
    #: The whole deployment in one transaction (live, ``--atomic``).
    atomic: bool = False

    @property
    def records_applied(self) -> bool:
        """Whether finishing a run changes the migration's applied state."""
        return not self.dry_run

    def obstacle(self, kind: StepKind, step: StepSpec, dialect: Dialect, direction: str) -> str:
        """Why this policy cannot execute the step ("" when it can)."""
        return kind.dry_run_obstacle(step, dialect, direction) if self.dry_run else ""

    @contextmanager
    def workspace(self, alias: str) -> Iterator[str]:
        """The connection alias the steps run on, set up for the whole execution."""
        if not self.dry_run:
            yield alias
            return
        dialect = dialect_for(alias)
        if dialect.dry_run_strategy == "scratch":
            with dialect.scratch_copy() as scratch:
                yield scratch
            return
        with rolled_back_clone(alias) as clone:
            yield clone


@contextmanager
def rolled_back_clone(alias: str) -> Iterator[str]:
    """A second session on the same database, inside a transaction that is rolled back.

    A session of its own keeps migrator's own rows (written on ``alias``) out of the
    transaction that is thrown away.
    """
    name = f"{alias}__migrator_dry_{os.getpid()}_{next(_clones)}"
    with dialect_for(alias).second_connection(name) as clone:
        with transaction.atomic(using=clone):
            yield clone
            transaction.set_rollback(True, using=clone)


def policy_for(deployment: Deployment) -> Policy:
    return Policy(dry_run=deployment.dry_run, atomic=bool(deployment.options.get("atomic")))
