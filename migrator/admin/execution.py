"""Deployments, runs, step runs, events, backups and locks: execution state, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from ..models import Backup, Deployment, Event, Run, StepRun, TargetLock
from .base import ReadOnlyAdmin, ReadOnlyAdminMixin, ReadOnlyInline


class RunInline(ReadOnlyInline):
    model = Run
    fields = ["order", "migration", "direction", "status", "rows_done", "rows_total", "error"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        return super().get_queryset(request).select_related("migration")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "id",
        "database",
        "direction",
        "goal_version",
        "status",
        "dry_run",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "direction", "database", "dry_run"]
    search_fields = ["requested_by", "goal_version"]
    inlines = [RunInline]


class StepRunInline(ReadOnlyInline):
    model = StepRun
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
    list_display = [
        "id",
        "deployment",
        "migration",
        "direction",
        "status",
        "rows_done",
        "rows_total",
        "started_at",
    ]
    list_filter = ["status", "direction"]
    list_select_related = ["deployment", "migration"]
    inlines = [StepRunInline]


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "order", "name", "kind", "status", "rows_affected", "attempts"]
    list_filter = ["status", "kind"]
    list_select_related = ["run__migration", "run__deployment"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["time", "level", "action", "actor", "database", "message"]
    list_filter = ["level", "action", "database"]
    search_fields = ["message", "actor"]
    date_hierarchy = "time"


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    list_display = ["id", "database", "location", "created_at", "restored_at"]
    list_filter = ["database"]


@admin.register(TargetLock)
class TargetLockAdmin(ReadOnlyAdmin):
    list_select_related = ["deployment"]
    list_display = ["database", "host", "pid", "deployment", "acquired_at", "heartbeat_at"]
