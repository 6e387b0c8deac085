"""Deployments, runs, step runs, events, backups and locks: execution state, read-only,
linked to each other and to the console's pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from ..models import Backup, Deployment, Event, Run, StepRun, TargetLock
from ..templatetags.migrator_console import badge, seconds
from .base import ReadOnlyAdmin, ReadOnlyAdminMixin, ReadOnlyInline, is_changelist
from .links import change_link, changelist_link, deployment_link, moment, size

#: Columns of a deployment that hold whole plans and reports: never loaded for a list.
_HEAVY_DEPLOYMENT_FIELDS = ("plan", "report", "progress", "failure", "options")


def _status(obj: Any) -> SafeString:
    return badge(obj.status, obj.get_status_display())


class DeploymentFilter(admin.SimpleListFilter):
    """``?deployment=<id>``: the events or runs of one deployment (linked from its page).
    No list of choices: there may be tens of thousands of deployments."""

    title = "deployment"
    parameter_name = "deployment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(deployment_id=int(value))
        return queryset


class RunInline(ReadOnlyInline):
    model = Run
    fields = ["order", "migration", "direction", "status", "rows_done", "rows_total", "error"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        return super().get_queryset(request).select_related("migration")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["number", "goal", "state", "requested_by", "created", "took"]
    list_display_links = None
    list_filter = ["status", "direction", "database", "dry_run"]
    search_fields = ["requested_by", "goal_version"]
    date_hierarchy = "created_at"
    readonly_fields = ["console", "events"]
    inlines = [RunInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Deployment]:
        queryset = super().get_queryset(request)
        if is_changelist(request):
            queryset = queryset.defer(*_HEAVY_DEPLOYMENT_FIELDS)
        return queryset

    @admin.display(description="#", ordering="id")
    def number(self, obj: Deployment) -> SafeString:
        """The console's page of the deployment (its record is linked from there)."""
        url = reverse("admin:migrator_console_deployment", args=[obj.pk])
        if obj.dry_run:
            return format_html(
                '<a href="{}">#{}</a> <span class="mg-badge mg-dry">dry run</span>', url, obj.pk
            )
        return format_html('<a href="{}">#{}</a>', url, obj.pk)

    @admin.display(description="what", ordering="direction")
    def goal(self, obj: Deployment) -> str:
        verb = "apply" if obj.direction == "forward" else "roll back"
        what = f"{verb} {obj.database}"
        return f"{what} to {obj.goal_version}" if obj.goal_version else what

    @admin.display(description="status", ordering="status")
    def state(self, obj: Deployment) -> SafeString:
        return _status(obj)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Deployment) -> str:
        return moment(obj.created_at)

    @admin.display(description="duration")
    def took(self, obj: Deployment) -> str:
        return seconds(obj.duration)

    @admin.display(description="console page")
    def console(self, obj: Deployment) -> SafeString | str:
        return deployment_link(obj.pk, obj.dry_run)

    @admin.display(description="events")
    def events(self, obj: Deployment) -> SafeString:
        return changelist_link("event", "its events, newest first", deployment=obj.pk)


class StepRunInline(ReadOnlyInline):
    model = StepRun
    show_change_link = True
    fields = [
        "order",
        "name",
        "kind",
        "status",
        "rows_affected",
        "batches_done",
        "attempts",
        "error",
    ]


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "of_deployment", "of_migration", "state", "rows", "started"]
    list_filter = ["status", "direction", DeploymentFilter]
    list_select_related = ["migration"]
    # Newest first, by primary key: sorting 100,000 runs by (deployment, order) costs more
    # than the rest of the page.
    ordering = ["-id"]
    readonly_fields = ["of_deployment", "of_migration"]
    inlines = [StepRunInline]

    @admin.display(description="deployment", ordering="deployment_id")
    def of_deployment(self, obj: Run) -> SafeString | str:
        return deployment_link(obj.deployment_id)

    @admin.display(description="migration", ordering="migration__position")
    def of_migration(self, obj: Run) -> SafeString | str:
        return change_link(obj.migration)

    @admin.display(description="status", ordering="status")
    def state(self, obj: Run) -> SafeString:
        """Its status, and the direction when it undoes (the rarer case)."""
        if obj.direction == "forward":
            return _status(obj)
        return format_html("{} <small>backward</small>", _status(obj))

    @admin.display(description="rows", ordering="rows_done")
    def rows(self, obj: Run) -> str:
        if obj.rows_total:
            return f"{obj.rows_done:,} of {obj.rows_total:,}"
        return f"{obj.rows_done:,}"

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Run) -> str:
        return moment(obj.started_at)


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "of_run", "order", "name", "kind", "state", "rows_affected", "attempts"]
    list_filter = ["status", "kind"]
    list_select_related = ["run__migration"]
    ordering = ["-id"]  # newest first, by primary key (see RunAdmin)
    readonly_fields = ["of_run"]

    @admin.display(description="run", ordering="run_id")
    def of_run(self, obj: StepRun) -> SafeString | str:
        return change_link(obj.run, f"run #{obj.run_id} of {obj.run.migration.version}")

    @admin.display(description="status", ordering="status")
    def state(self, obj: StepRun) -> SafeString:
        return _status(obj)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["at", "level", "action", "actor", "of_deployment", "message"]
    list_filter = ["level", "action", "database", DeploymentFilter]
    search_fields = ["message", "actor"]
    date_hierarchy = "time"
    ordering = ["-time", "-id"]

    @admin.display(description="time", ordering="time")
    def at(self, obj: Event) -> str:
        return moment(obj.time)

    @admin.display(description="deployment", ordering="deployment_id")
    def of_deployment(self, obj: Event) -> SafeString | str:
        return deployment_link(obj.deployment_id)


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    list_display = ["id", "of_deployment", "of_migration", "contents", "created", "restore"]
    list_filter = ["database"]
    list_select_related = ["migration"]
    readonly_fields = ["of_deployment", "of_migration", "restore"]

    @admin.display(description="deployment", ordering="deployment_id")
    def of_deployment(self, obj: Backup) -> SafeString | str:
        return deployment_link(obj.deployment_id)

    @admin.display(description="taken before", ordering="migration__position")
    def of_migration(self, obj: Backup) -> SafeString | str:
        migration = obj.migration
        if migration is None:
            return ""
        return change_link(migration, f"{migration.version} ({migration.database})")

    @admin.display(description="contents", ordering="size_bytes")
    def contents(self, obj: Backup) -> str:
        tables = len(obj.tables or [])
        return (
            f"{tables} table{'s' if tables != 1 else ''}, {obj.rows:,} rows, "
            f"{size(obj.size_bytes) or 'size unknown'}"
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Backup) -> str:
        return moment(obj.created_at)

    @admin.display(description="restore", ordering="restored_at")
    def restore(self, obj: Backup) -> SafeString | str:
        """When it was restored, or the way to restore it (the console's confirmation page
        checks the permission and says what will happen)."""
        if obj.restored_at:
            return format_html("restored {}", moment(obj.restored_at))
        url = reverse("admin:migrator_console_restore", args=[obj.pk])
        return format_html('<a href="{}">Restore…</a>', url)


@admin.register(TargetLock)
class TargetLockAdmin(ReadOnlyAdmin):
    list_display = ["database", "host", "pid", "of_deployment", "acquired", "heartbeat"]

    @admin.display(description="deployment", ordering="deployment_id")
    def of_deployment(self, obj: TargetLock) -> SafeString | str:
        return deployment_link(obj.deployment_id)

    @admin.display(description="acquired", ordering="acquired_at")
    def acquired(self, obj: TargetLock) -> str:
        return moment(obj.acquired_at)

    @admin.display(description="last heartbeat", ordering="heartbeat_at")
    def heartbeat(self, obj: TargetLock) -> str:
        return moment(obj.heartbeat_at)
