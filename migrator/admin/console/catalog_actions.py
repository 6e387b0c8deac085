"""Actions on the catalog and on backups: Sync, Verify, Repair, restore a backup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods

from ...models import Backup
from . import access
from .common import attempt, page, problem, to_console

if TYPE_CHECKING:
    from ... import services
else:
    from .deferred import services


@require_http_methods(["GET", "POST"])
def sync(request: HttpRequest) -> HttpResponse:
    """What a sync would change (GET), then the sync (POST)."""
    access.require_view(request)
    access.require(request, "sync")
    actor = access.actor(request)[0]
    if request.method == "POST":
        report = attempt(request, lambda: services.sync(actor=actor))
        if report is not None:
            messages.success(
                request,
                f"Synced: {len(report.created)} new, {len(report.updated)} changed, "
                f"{len(report.missing)} gone from disk.",
            )
        return to_console()
    report, refused = problem(lambda: services.sync(actor=actor, check=True))
    return page(
        request,
        "sync.html",
        "Sync the catalog",
        {"report": report, "refused": refused, "action": "sync", "label": "Sync"},
    )


@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    """Applied migrations whose files changed or are gone, and the catalog's warnings."""
    access.require_view(request)
    found, refused = problem(lambda: services.verify(with_warnings=True))
    problems, warnings = found if found is not None else ([], [])
    return page(
        request,
        "verify.html",
        "Verify the catalog",
        {"problems": problems, "warnings": warnings, "refused": refused},
    )


@require_http_methods(["GET", "POST"])
def repair(request: HttpRequest) -> HttpResponse:
    """Accept the current files of drifted migrations, with a reason (audited)."""
    access.require_view(request)
    access.require(request, "repair")
    if request.method == "POST":
        reason = request.POST.get("reason", "").strip()
        if not reason:
            messages.error(request, "Repair needs a reason: say why the changed files are right.")
            return page(request, "repair.html", "Repair drifted migrations", _drifted())
        versions = request.POST.getlist("version") or None
        repaired = attempt(
            request,
            lambda: services.repair(
                actor=access.actor(request)[0], reason=reason, versions=versions
            ),
        )
        if repaired:
            messages.success(request, f"Repaired: {', '.join(repaired)}.")
        elif repaired == []:
            messages.info(request, "Nothing was drifted.")
        return to_console()
    return page(request, "repair.html", "Repair drifted migrations", _drifted())


def _drifted() -> dict[str, object]:
    report, refused = problem(lambda: services.status())
    drifted = []
    for target in (report or {}).get("databases", []):
        drifted += [m for m in target["migrations"] if m["state"] == "drifted"]
    return {"drifted": drifted, "refused": refused}


@require_http_methods(["GET", "POST"])
def restore_backup(request: HttpRequest, backup_id: int) -> HttpResponse:
    """Put a backup's tables back (verified against its checksums first)."""
    access.require_view(request)
    access.require(request, "restore")
    backup = get_object_or_404(
        Backup.objects.select_related("migration", "deployment"), pk=backup_id
    )
    if request.method == "POST":
        done = attempt(
            request, lambda: services.restore_backup(backup.pk, actor=access.actor(request)[0])
        )
        if done is not None:
            messages.success(request, f"Backup #{backup.pk} restored into {backup.database}.")
        return to_console()
    refused = ""
    if backup.restored_at is not None:
        refused = (
            f"Backup #{backup.pk} was restored already ({backup.restored_at:%Y-%m-%d %H:%M:%S})."
        )
    return page(
        request,
        "restore.html",
        f"Restore backup #{backup.pk}",
        {"backup": backup, "refused": refused},
    )
