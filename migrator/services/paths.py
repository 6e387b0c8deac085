"""Upgrade (and downgrade) paths: from where a target is to any version, the ordered hops
with the stops an operator must make, how long it should take, and whether the way down
is exact.

A hop is one migration. It is a **required stop** (deploy the application, then go on)
when the migration says so (``-- Stop: true``), when its schema change is compatible in
neither direction (level ``none``, from the schema versions recorded for both ends), when
it needs downtime, or, going up, when it has no way back (past it, a rollback needs a
backup). Durations are estimated from this target's own history: the last run of the same
migration, else the rate (rows per second) of earlier runs of its kind times the rows of
the tables it transforms, else the median duration of earlier runs of its kind.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from django.db import connections
from django.db.models import DurationField, ExpressionWrapper, F, Sum

from ..catalog.spec import MigrationSpec
from ..catalog.versions import key_of
from ..engine.kinds.base import WayBack
from ..models import Run, SchemaVersion, StepRun
from ..schema.compat import compare
from ..states import Status
from .planning import plan
from .status import status


def path(database: str, to: str | None = None) -> dict[str, Any]:
    """The path from the current version of ``database`` to ``to`` (default: the latest)."""
    report = status(database)["databases"][0]
    current = report["current_version"]
    up = to is None or current is None or key_of(to) > key_of(current)
    result = plan(database, to=to, direction="forward" if up else "backward")
    schemas = {
        sv.version: sv.schema
        for sv in SchemaVersion.objects.filter(database=database).only("version", "schema")
    }
    rates = rates_of(database)
    # The version the target is at after each hop: going up, the migration's own; going
    # down, the next one down (and finally the goal).
    reached = [run.version for run in result.runs]
    if not up:
        reached = [*reached[1:], str(to)]
    at = current
    hops: list[dict[str, Any]] = []
    for run, after in zip(result.runs, reached, strict=True):
        spec = result.catalog.get(database, run.version) if result.catalog else None
        seconds, basis = estimate_run(database, run.version, run.kind, spec, rates)
        level = None
        if at in schemas and after in schemas:
            level = compare(schemas[at], schemas[after])["level"]
        hop: dict[str, Any] = {
            "version": run.version,
            "name": run.name,
            "release": run.release,
            "kind": run.kind,
            "risk": run.risk,
            "way_back": run.way_back,
            "level": level,
            "estimate_seconds": seconds,
            "estimate_basis": basis,
            "requires_downtime": run.requires_downtime,
            "stop": _stop(spec, run.way_back, level, run.requires_downtime, up),
        }
        hops.append(hop)
        at = after
    known = [h["estimate_seconds"] for h in hops if h["estimate_seconds"] is not None]
    return {
        "database": database,
        "from": current,
        "to": to or report["latest_version"],
        "direction": "up" if up else "down",
        "hops": hops,
        "stops": [h["version"] for h in hops if h["stop"]],
        "estimate_seconds": round(sum(known), 3) if known else None,
        "estimated_hops": len(known),
        "downtime": any(h["requires_downtime"] for h in hops),
        "risk": result.risk,
        # Every hop can be taken back exactly (backward SQL or captured values).
        "exact": all(WayBack(str(h["way_back"])).exact for h in hops),
        "warnings": result.warnings,
    }


def _stop(
    spec: MigrationSpec | None, way_back: str, level: str | None, downtime: bool, up: bool
) -> str | None:
    if spec is not None and spec.required_stop:
        return "the migration is marked as a stop"
    if level == "none":
        return "its schema change is compatible in neither direction: deploy the application here"
    if downtime:
        return "it needs downtime"
    if up and way_back == "none":
        return "it has no way back: past it, a rollback needs a backup"
    return None


def rates_of(database: str) -> dict[str, float]:
    """Rows per second of earlier successful step runs on this target, by step kind."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = (
        StepRun.objects.filter(
            run__deployment__database=database,
            run__deployment__dry_run=False,
            status=Status.SUCCEEDED,
            rows_affected__gt=0,
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .values("kind")
        .annotate(rows=Sum("rows_affected"), seconds=Sum(duration))
    )
    rates = {}
    for row in rows:
        seconds = row["seconds"].total_seconds() if row["seconds"] else 0
        if seconds > 0:
            rates[row["kind"]] = row["rows"] / seconds
    return rates


def estimate_run(
    database: str, version: str, kind: str, spec: MigrationSpec | None, rates: dict[str, float]
) -> tuple[float | None, str]:
    """Seconds one migration should take on ``database``, and what that is based on."""
    runs = Run.objects.filter(
        deployment__database=database,
        deployment__dry_run=False,
        status=Status.SUCCEEDED,
        started_at__isnull=False,
        finished_at__isnull=False,
    )
    last = runs.filter(migration__version=version).order_by("-pk").first()
    if last is not None and last.duration is not None:
        return round(last.duration, 3), "its last run here"
    tables = transformed_tables(spec)
    if tables and "transform" in rates:
        total = sum(_rows(database, table) for table in tables)
        return round(total / rates["transform"], 3), (
            f"{total:,} rows at {rates['transform']:,.0f} rows/s (earlier transforms here)"
        )
    same_kind = [
        r.duration
        for r in runs.filter(migration__kind=kind).order_by("-pk")[:50]
        if r.duration is not None
    ]
    if same_kind:
        return round(statistics.median(same_kind), 3), f"median of earlier {kind} runs here"
    return None, "no earlier run here to measure"


def transformed_tables(spec: MigrationSpec | None) -> list[str]:
    """Tables the migration's transform steps change (their old values are captured)."""
    if spec is None:
        return []
    found = []
    for step in spec.steps:
        if step.kind == "transform":
            try:
                table = json.loads(step.forward).get("table")
            except (TypeError, ValueError, AttributeError):
                table = None
            if table:
                found.append(str(table))
    return found


def _rows(database: str, table: str) -> int:
    connection = connections[database]
    if table not in connection.introspection.table_names():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return int(cursor.fetchone()[0])
