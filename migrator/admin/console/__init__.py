"""The operator console: pages and actions in the admin, calling the same services as the
CLI (no engine logic here). Registered on a proxy model so that it has an entry in the
admin index of every project that installs the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

from ...models import Console
from . import access, catalog_actions, dashboard, deployment_page, schema_pages, target_actions


@admin.register(Console)
class ConsoleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """``/admin/migrator/console/``: the dashboard, and every console page under it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.can_view(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.can_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return dashboard.dashboard(request)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        pages: list[tuple[str, Callable[..., HttpResponse], str]] = [
            ("", dashboard.dashboard, "migrator_console"),
            # The name the admin index links the app's "Console" entry to.
            ("", dashboard.dashboard, "migrator_console_changelist"),
            ("target/<str:database>/plan/", target_actions.plan, "migrator_console_plan"),
            ("target/<str:database>/apply/", target_actions.apply, "migrator_console_apply"),
            ("target/<str:database>/dry-run/", target_actions.dry_run, "migrator_console_dry_run"),
            (
                "target/<str:database>/rollback/",
                target_actions.rollback,
                "migrator_console_rollback",
            ),
            ("target/<str:database>/unlock/", target_actions.unlock, "migrator_console_unlock"),
            ("recover/", target_actions.recover, "migrator_console_recover"),
            ("sync/", catalog_actions.sync, "migrator_console_sync"),
            ("verify/", catalog_actions.verify, "migrator_console_verify"),
            ("repair/", catalog_actions.repair, "migrator_console_repair"),
            (
                "backup/<int:backup_id>/restore/",
                catalog_actions.restore_backup,
                "migrator_console_restore",
            ),
            (
                "deployment/<int:deployment_id>/",
                deployment_page.deployment_page,
                "migrator_console_deployment",
            ),
            (
                "deployment/<int:deployment_id>/progress.json",
                deployment_page.progress,
                "migrator_console_progress",
            ),
            (
                "deployment/<int:deployment_id>/report.json",
                deployment_page.report_json,
                "migrator_console_report",
            ),
            (
                "deployment/<int:deployment_id>/<str:action>/",
                deployment_page.control,
                "migrator_console_control",
            ),
            ("schema/<int:version_id>/", schema_pages.schema_version, "migrator_console_schema"),
            ("target/<str:database>/matrix/", schema_pages.matrix, "migrator_console_matrix"),
            ("target/<str:database>/path/", schema_pages.upgrade_path, "migrator_console_path"),
            (
                "schema/<int:version_id>/schema.json",
                schema_pages.schema_json,
                "migrator_console_schema_json",
            ),
            ("schema/compare/", schema_pages.compare, "migrator_console_compare"),
        ]
        return [path(route, view(func), name=name) for route, func, name in pages]
