"""Migrations, steps and schema versions, with their history."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..models import Migration, SchemaVersion, Step
from .base import ReadOnlyAdminMixin, ReadOnlyInline


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["order", "name", "kind", "forward", "backward", "validation", "options"]


@admin.register(Migration)
class MigrationAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Definitions mirror the files on disk, so they are read-only here."""

    list_display = [
        "version",
        "name",
        "database",
        "kind",
        "format",
        "applied",
        "drift_flag",
        "reversible",
        "risk",
        "release",
        "on_disk",
    ]
    list_filter = ["database", "applied", "kind", "format", "reversible", "risk", "on_disk"]
    search_fields = ["version", "name", "description", "source"]
    inlines = [StepInline]

    @admin.display(boolean=True, description="drifted")
    def drift_flag(self, obj: Migration) -> bool:
        return obj.drifted


@admin.register(Step)
class StepAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["migration", "order", "name", "kind"]
    list_filter = ["kind", "migration__database"]
    list_select_related = ["migration"]
    search_fields = ["name", "migration__version", "migration__name"]


@admin.register(SchemaVersion)
class SchemaVersionAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["database", "version", "release", "active", "captured_at"]
    list_filter = ["database", "active"]
