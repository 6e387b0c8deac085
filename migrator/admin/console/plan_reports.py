"""What the apply confirmation shows besides the plan itself: the breaking changes a dry run
found, the lint findings (and whether they stop the Apply button), and, when asked, the
readiness checks on live data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from ...conf import migrator_settings
from ...models import SchemaVersion

if TYPE_CHECKING:
    from ... import services
    from ...services.planning import Plan
else:
    from .deferred import services


def context(request: HttpRequest, database: str, plan: Plan | None) -> dict[str, Any]:
    # Counting on live data can take a while on big tables: only when asked.
    asked = plan is not None and bool(request.GET.get("readiness"))
    return {
        "breaking": _breaking_changes(database, plan),
        **_lint(plan),
        "readiness": services.plan_readiness(plan) if asked and plan is not None else None,
        "estimate": services.estimate(plan) if asked and plan is not None else None,
    }


def _lint(plan: Plan | None) -> dict[str, Any]:
    """The lint findings of the planned migrations, and whether they stop the Apply button
    (``LINT_GATE``): the page then asks a user with ``override_lint`` for a reason."""
    if plan is None:
        return {"lint": [], "lint_gate": False}
    report = services.lint_plan(plan)
    return {
        "lint": report.findings,
        "lint_gate": migrator_settings.LINT_GATE and bool(report.blocking),
        "lint_blocking": report.blocking_severities,
    }


def _breaking_changes(database: str, plan: Plan | None) -> list[dict[str, Any]]:
    """Breaking changes the last dry run found in the expected schemas of the planned
    versions (one query; empty before any dry run)."""
    if plan is None or plan.direction != "forward":
        return []
    versions = [run.version for run in plan.runs]
    rows = SchemaVersion.objects.filter(
        database=database, version__in=versions, origin=SchemaVersion.Origin.EXPECTED
    ).values("version", "breaking_changes", "deployment_id")
    order = {version: index for index, version in enumerate(versions)}
    found = [
        {**change, "version": row["version"], "dry_run": row["deployment_id"]}
        for row in sorted(rows, key=lambda r: order[r["version"]])
        for change in row["breaking_changes"] or []
    ]
    return found
