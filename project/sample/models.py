"""The demo's data: tenants with a JSON configuration, as in release 1.0."""

from django.db import models


class Tenant(models.Model):
    """A tenant; ``config`` holds ``maxMemoryMB`` and ``durabilityMode`` in release 1.0."""

    name = models.CharField(max_length=100, unique=True)
    config = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
