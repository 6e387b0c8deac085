"""The protocol every step kind implements.

A kind knows how to run its steps both ways, whether they can go back and how, what they
touch, how to describe them, and whether a dry run can execute them: the executor never
switches on a kind's name (as Django's operations each know how to run and describe
themselves).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import StepFailed
from ..sql import check_validation

if TYPE_CHECKING:
    from ...catalog.spec import StepSpec
    from ...dialects import Dialect
    from ..execution import StepExecution


class WayBack(StrEnum):
    """How a step (or a migration, its worst step) can be taken back, best first."""

    NOTHING = "nothing to undo"
    SQL = "exact: backward SQL"
    CALLABLE = "exact: backward callable"
    CAPTURED = "exact: captured data"
    BACKUP = "by backup"
    NONE = "none"

    @property
    def exact(self) -> bool:
        return self in (WayBack.NOTHING, WayBack.SQL, WayBack.CALLABLE, WayBack.CAPTURED)

    @property
    def rank(self) -> int:
        return _RANKS[self]


#: Position of each way back, best first (listing the enum each time cost 40 µs).
_RANKS = {way: rank for rank, way in enumerate(WayBack)}


def worst(ways: list[WayBack]) -> WayBack:
    return max(ways, key=lambda w: w.rank) if ways else WayBack.NOTHING


class StepKind:
    """Base class of step kinds; see :mod:`migrator.engine.kinds` for the registry."""

    name: ClassVar[str] = ""
    #: What steps of this kind change: "schema", "data" or "" (nothing).
    changes: ClassVar[str] = ""
    #: Whether a step of this kind can capture values (what its way back may restore):
    #: only then is a rollback's question "did it capture any?" asked of the target.
    can_capture: ClassVar[bool] = False

    # -- what the catalog and the planner ask -------------------------------------------

    def problems(self, step: StepSpec) -> list[str]:
        """What is wrong with the step as declared (empty when it can run)."""
        return []

    def transactional(self, step: StepSpec) -> bool:
        """Whether the runner wraps the whole step in one transaction (going forward)."""
        return bool(step.options.get("transaction", True))

    def transactional_for(self, step: StepSpec, direction: str) -> bool:
        """Whether the runner wraps the step in one transaction in ``direction``."""
        return self.transactional(step)

    def declared_way_back(self, step: StepSpec) -> WayBack:
        """How the step can be taken back, from its declaration alone."""
        return WayBack.NONE

    def way_back(self, step: StepSpec, captured: bool) -> WayBack:
        """How an applied step can be taken back, given whether its run captured values."""
        return self.declared_way_back(step)

    def missing_way_back(self, step: StepSpec) -> str:
        """Why an applied step of this kind cannot be taken back (a sentence's end)."""
        return "has no way back"

    def describe(self, step: StepSpec, direction: str) -> dict[str, Any]:
        """What a plan shows of the step (JSON)."""
        return {}

    def touched_tables(self, step: StepSpec, dialect: Dialect) -> set[str] | None:
        """Tables whose rows the step changes; None when that cannot be known."""
        return None

    def only_changes_rows(self, step: StepSpec, dialect: Dialect) -> bool:
        """Whether a data backup of the touched tables is enough to undo the step."""
        return False

    #: :meth:`preflight` reads ``prepared`` (so plans work out what earlier steps touch).
    reads_prepared = False

    def preflight(self, step: StepSpec, dialect: Dialect, prepared: set[str]) -> list[str]:
        """Problems a plan can see before running the step on this database; ``prepared``:
        tables earlier migrations of the plan touch (they may create what it needs)."""
        return []

    def dry_run_obstacle(self, step: StepSpec, dialect: Dialect, direction: str) -> str:
        """Why a dry run cannot execute the step on this database ("" when it can)."""
        return ""

    # -- execution ----------------------------------------------------------------------

    def forward(self, ex: StepExecution) -> None:
        raise NotImplementedError

    def backward(self, ex: StepExecution) -> None:
        raise StepFailed(f"{ex.where}a {self.name} step has no way back")

    def undo(self, ex: StepExecution) -> None:
        """Take back what a forward execution committed (all of it, or ``ex.partial``)."""
        self.backward(ex)

    # -- shared helpers -------------------------------------------------------------------

    @staticmethod
    def validate(ex: StepExecution, query: str, label: str) -> None:
        """Run a validation query; fail the step if it returns rows."""
        passed, sample = check_validation(ex.dialect, query)
        ex.note(kind="validation", query=query, passed=passed, sample=sample)
        if not passed:
            rows = "; ".join(", ".join(row) for row in sample)
            raise StepFailed(f"{ex.where}{label} failed: the query returned rows: {rows}")
