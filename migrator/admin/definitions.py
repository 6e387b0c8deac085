"""Migrations, steps and schema versions, with their history, linked to their runs,
deployments and the console's pages."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from ..models import Migration, SchemaVersion, Step
from ..templatetags.migrator_console import badge
from .base import ReadOnlyAdminMixin, ReadOnlyInline, is_changelist
from .links import change_link, changelist_link, deployment_link, moment


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["order", "name", "kind", "forward", "backward", "validation", "options"]


def migration_state(obj: Migration) -> str:
    """What the console calls it: applied, pending, drifted, or gone from disk."""
    if obj.drifted:
        return "drifted"
    if not obj.on_disk:
        return "missing" if obj.applied else "removed"
    return "applied" if obj.applied else "pending"


@admin.register(Migration)
class MigrationAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Definitions mirror the files on disk, so they are read-only here."""

    # Kind, format and risk are filters: as columns they would not fit a 1280 px screen.
    list_display = ["version", "name", "database", "state", "release", "applied_when"]
    list_filter = ["database", "applied", "kind", "format", "reversible", "risk", "on_disk"]
    search_fields = ["version", "name", "description", "source"]
    readonly_fields = ["state", "way_back", "applied_by_run", "runs"]
    inlines = [StepInline]

    @admin.display(description="state")
    def state(self, obj: Migration) -> SafeString:
        """Its state, and how it comes back when it has no backward part (a red cross
        would say "error", which it is not)."""
        way_back = self.way_back(obj)
        if way_back == "reversible":
            return badge(migration_state(obj))
        return format_html(
            '{} <span class="mg-muted">{}</span>',
            badge(migration_state(obj)),
            "no way back" if way_back == "none" else way_back,
        )

    @admin.display(description="way back", ordering="reversible")
    def way_back(self, obj: Migration) -> str:
        if obj.repeatable:
            return "repeatable"
        return "reversible" if obj.reversible else "none"

    @admin.display(description="applied", ordering="applied_at")
    def applied_when(self, obj: Migration) -> str:
        return moment(obj.applied_at) if obj.applied else ""

    @admin.display(description="applied by")
    def applied_by_run(self, obj: Migration) -> SafeString | str:
        run = obj.applied_run
        if run is None:
            return obj.applied_by
        return format_html(
            "{} in {}", change_link(run, f"run #{run.pk}"), deployment_link(run.deployment_id)
        )

    @admin.display(description="runs")
    def runs(self, obj: Migration) -> SafeString:
        return changelist_link("run", "every run of this migration", migration__id__exact=obj.pk)


@admin.register(Step)
class StepAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["migration", "order", "name", "kind"]
    list_filter = ["kind", "migration__database"]
    list_select_related = ["migration"]
    search_fields = ["name", "migration__version", "migration__name"]


@admin.register(SchemaVersion)
class SchemaVersionAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["database", "version", "release", "origin", "current", "captured", "view"]
    list_filter = ["database", "active", "origin"]
    readonly_fields = ["view", "of_deployment"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SchemaVersion]:
        queryset = super().get_queryset(request)
        if is_changelist(request):
            queryset = queryset.defer("schema", "breaking_changes")
        return queryset

    @admin.display(description="current", ordering="active")
    def current(self, obj: SchemaVersion) -> str:
        return "current" if obj.active else ""

    @admin.display(description="captured", ordering="captured_at")
    def captured(self, obj: SchemaVersion) -> str:
        return moment(obj.captured_at)

    @admin.display(description="")
    def view(self, obj: SchemaVersion) -> SafeString:
        url = reverse("admin:migrator_console_schema", args=[obj.pk])
        return format_html('<a href="{}">tables, columns, indexes…</a>', url)

    @admin.display(description="deployment")
    def of_deployment(self, obj: SchemaVersion) -> SafeString | str:
        return deployment_link(obj.deployment_id)
