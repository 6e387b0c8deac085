"""Shared admin behaviour: rows only migrator writes are shown, never edited by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class ReadOnlyAdminMixin:
    """Rows written only by migrator itself (through its services): viewable, never edited
    by hand, by anyone, superusers included.

    That covers simple-history's "revert" form too: its POST would save an old version of
    a row (``applied=False`` on a migration, ``running`` on a deployment), which is exactly
    the kind of hand-written execution state that leaves targets stuck or work applied twice.
    """

    class Media:
        # Status badges and list layout shared with the console's pages.
        css = {"all": ["migrator/console.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # -- simple-history ---------------------------------------------------------------

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied("history is read-only: state changes go through migrator")
        return super().history_form_view(  # type: ignore[misc]
            request, object_id, version_id, extra_context
        )


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """A tabular inline of rows migrator writes: every field shown, none editable."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or ()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def is_changelist(request: HttpRequest) -> bool:
    """Whether ``request`` renders a model's list (where big JSON columns are not shown)."""
    match = request.resolver_match
    return bool(match and (match.url_name or "").endswith("changelist"))
