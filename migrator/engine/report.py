"""The report of a dry run: per step, the statements with rows affected, validations and
timings; per run, the schema it led to; and the schema diff of the whole deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..schema.diff import diff_schemas

if TYPE_CHECKING:
    from ..models import Run
    from .execution import StepExecution


class DryRunReport:
    def __init__(self, schema_before: dict[str, Any]):
        self.schema_before = schema_before
        self.runs: list[dict[str, Any]] = []
        self._by_run: dict[int, dict[str, Any]] = {}

    def _run(self, run: Run) -> dict[str, Any]:
        entry = self._by_run.get(run.pk)
        if entry is None:
            entry = {
                "version": run.migration.version,
                "name": run.migration.name,
                "direction": run.direction,
                "steps": [],
            }
            self._by_run[run.pk] = entry
            self.runs.append(entry)
        return entry

    def step(
        self,
        ex: StepExecution,
        *,
        executed: bool,
        seconds: float = 0.0,
        reason: str = "",
        error: str = "",
    ) -> None:
        entry: dict[str, Any] = {
            "order": ex.order,
            "name": ex.step.name,
            "kind": ex.step.kind,
            "executed": executed,
        }
        if executed:
            entry.update(
                rows=ex.progress.done,
                seconds=round(seconds, 6),
                statements=[n for n in ex.notes if n["kind"] == "statement"],
                validations=[n for n in ex.notes if n["kind"] == "validation"],
            )
        else:
            entry["reason"] = reason
        if ex.direction != "forward" and ex.step.kind == "sql":
            entry["sql"] = ex.step.backward
        elif not executed and ex.step.kind == "sql":
            entry["sql"] = ex.step.forward
        if error:
            entry["error"] = error
        self._run(ex.run)["steps"].append(entry)

    def run_failed(self, run: Run, error: str) -> None:
        self._run(run)["error"] = error

    def run_schema(self, run: Run, schema: dict[str, Any]) -> None:
        self._run(run)["schema_after"] = schema

    def as_dict(self, schema_after: dict[str, Any], error: str) -> dict[str, Any]:
        runs = []
        for run in self.runs:
            runs.append({k: v for k, v in run.items() if k != "schema_after"})
        return {
            "runs": runs,
            "schema_before": self.schema_before,
            "schema_after": schema_after,
            "schema_diff": diff_schemas(self.schema_before, schema_after),
            "error": error or None,
        }
