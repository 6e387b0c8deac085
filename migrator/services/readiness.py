"""Readiness of a forward plan: pre-checks on the target's live data (see
:mod:`migrator.schema.readiness`)."""

from __future__ import annotations

from ..schema.readiness import Readiness, readiness
from .planning import Plan


def plan_readiness(result: Plan) -> list[Readiness]:
    """What the planned statements would trip over on ``result.database`` now."""
    if result.direction != "forward" or result.catalog is None:
        return []
    found = (result.catalog.get(result.database, run.version) for run in result.runs)
    return readiness(result.database, [spec for spec in found if spec is not None])
