"""Schema versions: what a target database looked like at a version."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class SchemaVersion(models.Model):
    """The captured schema of a target at one version; one active per target."""

    database = models.CharField(max_length=100, default="default")
    version = models.CharField(max_length=100)
    release = models.CharField(max_length=50, blank=True)
    schema = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=False)
    breaking_changes = models.JSONField(default=list, blank=True)
    compatibility_notes = models.TextField(blank=True)
    captured_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

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
        return f"{self.database} @ {self.version}{label}"
