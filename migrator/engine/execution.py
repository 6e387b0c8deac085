"""What every step implementation is given: the step, where it runs, and its bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..catalog import StepSpec
from ..models import Deployment, Run, StepRun
from .errors import StepFailed
from .progress import Progress, Reporter
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

    @classmethod
    def build(
        cls,
        *,
        target: Target,
        deployment: Deployment,
        run: Run,
        step_run: StepRun | None,
        spec: StepSpec,
        order: int,
        forward_run_id: int,
        direction: str,
        reporter: Reporter | None,
        dry_run: bool = False,
        controllable: bool = True,
        undo: bool = False,
    ) -> StepExecution:
        """A step execution with its progress; ``undo`` work keeps the step run's forward
        counts (its progress is not written to it) and is never paused or cancelled."""
        progress = Progress(
            run=run,
            step_run=None if undo else step_run,
            label=run.migration.version,
            step_name=f"undo {spec.name}" if undo else spec.name,
            deployment_id=deployment.pk,
            reporter=reporter,
            dry_run=dry_run,
            controllable=controllable and not undo,
        )
        return cls(
            target=target,
            deployment=deployment,
            run=run,
            step_run=step_run,
            spec=spec,
            order=order,
            forward_run_id=forward_run_id,
            direction=direction,
            progress=progress,
            dry_run=dry_run,
        )

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
