"""What every step implementation is given: the step, where it runs, and its bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..catalog import StepSpec
from ..models import Deployment, Run, StepRun
from .errors import StepFailed
from .progress import Progress
from .target import Target

__all__ = ["StepExecution", "StepFailed"]


@dataclass
class StepExecution:
    target: Target
    deployment: Deployment
    run: Run
    step_run: StepRun | None
    spec: StepSpec
    #: 1-based position of the step in the migration (forward order).
    order: int
    #: The forward run whose captured values a backward step restores.
    forward_run_id: int
    direction: str
    progress: Progress
    dry_run: bool = False
    #: Statements and validation outcomes, for dry-run reports.
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.run.migration.version} step {self.order} ({self.spec.name}): "

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.deployment.options.get("params", {}))

    def note(self, **entry: Any) -> None:
        self.notes.append({"time": time.time(), **entry})

    def throttle(self, rows: int, started: float) -> None:
        """Pause between batches, or cap rows per second, as the step's options say."""
        pause = float(self.spec.options.get("pause_between_batches", 0) or 0)
        cap = float(self.spec.options.get("max_rows_per_second", 0) or 0)
        if cap > 0 and rows:
            pause = max(pause, rows / cap - (time.monotonic() - started))
        if pause > 0 and not self.dry_run:
            time.sleep(pause)
