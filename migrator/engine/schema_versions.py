"""Recording the schema a target has after a deployment, with what broke since before."""

from __future__ import annotations

from django.db import router, transaction

from ..models import Deployment, Migration, SchemaVersion
from ..schema import capture_schema, diff_schemas
from .target import Target


def record(deployment: Deployment, target: Target) -> SchemaVersion | None:
    """Capture the target's schema as the active version of the target (one per target)."""
    current = (
        Migration.objects.filter(database=target.alias, applied=True).order_by("-position").first()
    )
    with transaction.atomic(using=router.db_for_write(SchemaVersion)):
        previous = SchemaVersion.objects.filter(database=target.alias, active=True).first()
        if current is None:
            SchemaVersion.objects.filter(database=target.alias, active=True).update(active=False)
            return None
        schema = capture_schema(target.connection)
        changes = diff_schemas(previous.schema, schema) if previous else []
        SchemaVersion.objects.filter(database=target.alias, active=True).update(active=False)
        version, _ = SchemaVersion.objects.update_or_create(
            database=target.alias,
            version=current.version,
            defaults={
                "release": current.release,
                "schema": schema,
                "active": True,
                "breaking_changes": [c for c in changes if c["breaking"]],
            },
        )
    return version
