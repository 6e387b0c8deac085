"""Schema versions: what a target database looks like at a version."""

from __future__ import annotations

from django.db import models

from .history import AuditHistory


class SchemaVersion(models.Model):
    """The schema of a target at one version: captured after a run reached it, or expected
    (computed by a dry run) for a version not applied yet. One active per target."""

    class Origin(models.TextChoices):
        CAPTURED = "captured", "captured from the live database"
        EXPECTED = "expected", "computed by a dry run"

    database = models.CharField(max_length=100, default="default")
    version = models.CharField(max_length=100)
    release = models.CharField(max_length=50, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.CAPTURED)
    schema = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=False)
    breaking_changes = models.JSONField(
        default=list, blank=True, help_text="Changes from the previous version that break it."
    )
    deployment = models.ForeignKey(
        "migrator.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="schema_versions",
    )
    captured_at = models.DateTimeField(auto_now=True)

    history = AuditHistory(excluded_fields=["schema"], no_db_index=["deployment"])

    class Meta:
        ordering = ["database", "-captured_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["database", "version"], name="migrator_schemaversion_unique_version"
            ),
            models.UniqueConstraint(
                fields=["database"],
                condition=models.Q(active=True),
                name="migrator_schemaversion_one_active",
            ),
        ]

    def __str__(self) -> str:
        label = f" ({self.release})" if self.release else ""
        expected = " expected" if self.origin == self.Origin.EXPECTED else ""
        return f"{self.database} @ {self.version}{label}{expected}"
