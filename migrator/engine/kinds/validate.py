"""``validate``: a query that must return no rows (or a single true). Going back does nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .base import StepKind, WayBack

if TYPE_CHECKING:
    from ...catalog.spec import StepSpec
    from ..execution import StepExecution


class ValidateKind(StepKind):
    name: ClassVar[str] = "validate"

    def problems(self, step: StepSpec) -> list[str]:
        return [] if step.forward.strip() else ["the validation query is empty"]

    def declared_way_back(self, step: StepSpec) -> WayBack:
        return WayBack.NOTHING

    def describe(self, step: StepSpec, direction: str) -> dict[str, Any]:
        return {"sql": step.forward if direction == "forward" else ""}

    def forward(self, ex: StepExecution) -> None:
        self.validate(ex, ex.step.forward, "validation step")

    def backward(self, ex: StepExecution) -> None:
        return None
