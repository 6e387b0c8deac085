"""Migrations, steps and schema versions, with their history; plus the console page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..catalog import CatalogError
from ..exceptions import MigratorError
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

    def get_urls(self) -> list[Any]:
        console = path(
            "console/",
            self.admin_site.admin_view(self.console_view),
            name="migrator_console",
        )
        return [console, *super().get_urls()]

    def console_view(self, request: HttpRequest) -> HttpResponse:
        """Read-only overview of every target: versions, pending work, drift, locks."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Migrations console",
        }
        try:
            context["report"] = services.status()
        except CatalogError as exc:
            context["catalog_problems"] = exc.problems
        except MigratorError as exc:
            context["error"] = str(exc)
        return TemplateResponse(request, "migrator/console.html", context)


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
