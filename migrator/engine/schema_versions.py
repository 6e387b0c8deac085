"""Recording the schema a target has at each version it reaches, and the schema a dry run
expects pending versions to have."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..catalog.versions import key_of
from ..conf import migrator_settings
from ..dialects import state_atomic
from ..models import Deployment, Migration, Run, SchemaVersion
from ..schema.diff import diff_schemas
from . import rows
from .target import Target


def capture_after_each(runs: Sequence[Run]) -> bool:
    """Capture after every run of small deployments; big ones (adopting hundreds of
    migrations) capture at the end of each release and of the deployment, which keeps
    each migration's cost flat."""
    return len(runs) <= migrator_settings.SCHEMA_CAPTURE_MAX_RUNS


def release_ends(runs: Sequence[Run]) -> set[int]:
    """Runs of a big deployment after which the schema is recorded all the same: the last
    of each release but the deployment's last run (recorded at its end). A compatibility
    matrix by release then has every release a deployment went through."""
    ends = set()
    for run, following in zip(runs, runs[1:], strict=False):
        release = run.migration.release
        if release and following.migration.release != release:
            ends.add(run.pk)
    return ends


def _previous(database: str, version: str) -> SchemaVersion | None:
    """The schema version just below ``version``: versions are compared in Python (their
    natural order is not the database's), and only the one found has its schema read
    (each is the whole schema: megabytes for a big database, dozens of them)."""
    below = [
        (key_of(other), pk)
        for pk, other in SchemaVersion.objects.filter(database=database).values_list(
            "pk", "version"
        )
        if key_of(other) < key_of(version)
    ]
    if not below:
        return None
    _, pk = max(below, key=lambda pair: pair[0])
    return SchemaVersion.objects.only("version", "schema").get(pk=pk)


def _breaking(database: str, version: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    previous = _previous(database, version)
    if previous is None:
        return []
    return [c for c in diff_schemas(previous.schema, schema) if c["breaking"]]


def record(deployment: Deployment, target: Target) -> SchemaVersion | None:
    """Capture the target's schema as the active version of the target (one per target)."""
    current = (
        Migration.objects.filter(database=target.alias, applied=True, repeatable=False)
        .order_by("-position")
        .first()
    )
    with state_atomic():
        SchemaVersion.objects.filter(database=target.alias, active=True).update(active=False)
        if current is None:
            return None
        schema = target.dialect.capture_schema()
        fields = {
            "release": current.release,
            "schema": schema,
            "active": True,
            "origin": SchemaVersion.Origin.CAPTURED,
            "deployment": deployment,
            "breaking_changes": _breaking(target.alias, current.version, schema),
        }
        # Written below Django's ORM (``update_or_create``): on PostgreSQL the schema's
        # JSON (megabytes for a big database) then goes as a statement's parameter
        # instead of being quoted into its text.
        version = (
            SchemaVersion.objects.filter(database=target.alias, version=current.version)
            .defer("schema")
            .first()
        )
        if version is None:
            version = rows.build(
                SchemaVersion, database=target.alias, version=current.version, **fields
            )
            rows.create_with_history([version], reason="captured")
        else:
            rows.update_with_history(version, reason="captured again", **fields)
    return version


def record_expected(deployment: Deployment, migration: Migration, schema: dict[str, Any]) -> None:
    """A dry run's schema after ``migration``: the expected schema of a pending version
    (never replacing one captured from the live database)."""
    breaking = _breaking(migration.database, migration.version, schema)
    with state_atomic():  # reads, then writes: take the write lock first on SQLite
        existing = SchemaVersion.objects.filter(
            database=migration.database, version=migration.version
        ).first()
        if existing is not None and existing.origin == SchemaVersion.Origin.CAPTURED:
            return
        SchemaVersion.objects.update_or_create(
            database=migration.database,
            version=migration.version,
            defaults={
                "release": migration.release,
                "schema": schema,
                "origin": SchemaVersion.Origin.EXPECTED,
                "deployment": deployment,
                "breaking_changes": breaking,
            },
        )
