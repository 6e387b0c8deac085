"""Who may do what on the console: one permission per kind of action, none by default.

Superusers have them all (Django's rule). A button is shown only to users who may press
it, and its URL answers 403 to everyone else, whatever the HTTP method.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

#: Action → the permission it needs (codenames on :class:`~migrator.models.Deployment`).
PERMISSIONS: dict[str, str] = {
    "apply": "migrator.apply",
    "dry_run": "migrator.apply",
    "rollback": "migrator.rollback",
    "dry_run_rollback": "migrator.rollback",
    "pause": "migrator.control",
    "resume": "migrator.control",
    "cancel": "migrator.control",
    "retry": "migrator.control",
    "recover": "migrator.manage_target",
    "unlock": "migrator.manage_target",
    "sync": "migrator.manage_target",
    "repair": "migrator.manage_target",
    "restore": "migrator.manage_target",
    "approve": "migrator.approve",
    "reject": "migrator.approve",
    "override_lint": "migrator.override_lint",
}

#: Any of these lets a staff user see the console (read-only without the action ones).
VIEW_PERMISSIONS = ("migrator.view_migration", "migrator.view_deployment")


def can(request: HttpRequest, action: str) -> bool:
    return bool(request.user.has_perm(PERMISSIONS[action]))


def require(request: HttpRequest, action: str) -> None:
    if not can(request, action):
        raise PermissionDenied(f"you need the {PERMISSIONS[action]!r} permission to {action}")


def can_view(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff) and any(
        user.has_perm(p) for p in VIEW_PERMISSIONS
    )


def require_view(request: HttpRequest) -> None:
    if not can_view(request):
        raise PermissionDenied("you need permission to view migrations or deployments")


def allowed(request: HttpRequest) -> dict[str, bool]:
    """``{action: may}`` for the templates (``{% if may.apply %}``)."""
    return {action: can(request, action) for action in PERMISSIONS}


def actor(request: HttpRequest) -> tuple[str, Any]:
    """The acting admin user as events name them, and their id (for history rows)."""
    user = request.user
    return f"admin:{user.get_username()}", user.pk
