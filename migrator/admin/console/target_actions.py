"""Actions on a target database: plan, dry-run and apply; roll back; unlock and recover.

Each is a GET page that shows exactly what would happen (the plan the services compute)
and a POST that does it; the POST plans again, so it never acts on a stale page.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods

from ...conf import BACKUP_MODES, migrator_settings
from . import access, plan_reports
from .common import attempt, page, problem, to_console, to_deployment
from .dashboard import releases

if TYPE_CHECKING:
    from ... import services
else:
    from .deferred import services

#: Session key of submitted confirmation forms: a second submission of the same form
#: shows the deployment the first one started instead of starting another.
SUBMITTED = "migrator_console_submitted"


def _database(database: str) -> str:
    from django.db import connections

    if database not in connections.databases:
        raise Http404(f"no database {database!r}")
    return database


def _once(request: HttpRequest) -> tuple[str, HttpResponse | None]:
    """The form's token, and where to go if it was already submitted."""
    token = request.POST.get("token", "")
    done = request.session.get(SUBMITTED, {})
    if token and token in done:
        messages.info(request, f"Already submitted: this is deployment #{done[token]}.")
        return token, to_deployment(done[token])
    return token, None


def _remember(request: HttpRequest, token: str, deployment_id: int) -> None:
    done = dict(request.session.get(SUBMITTED, {}))
    done[token] = deployment_id
    request.session[SUBMITTED] = dict(list(done.items())[-50:])


def _started(request: HttpRequest, token: str, deployment: Any, what: str) -> HttpResponse:
    if token:
        _remember(request, token, deployment.pk)
    status = deployment.get_status_display()
    messages.success(request, f"{what}: deployment #{deployment.pk} is {status}.")
    return to_deployment(deployment.pk)


@require_GET
def plan(request: HttpRequest, database: str) -> HttpResponse:
    """What applying would do (anyone who may view the console)."""
    return _forward(request, database, "plan")


@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, database: str) -> HttpResponse:
    """The plan as a confirmation (GET), then the deployment (POST)."""
    return _forward(request, database, "apply")


@require_http_methods(["GET", "POST"])
def dry_run(request: HttpRequest, database: str) -> HttpResponse:
    """The plan as a confirmation (GET), then its dry run (POST)."""
    return _forward(request, database, "dry_run")


def _forward(request: HttpRequest, database: str, mode: str) -> HttpResponse:
    access.require_view(request)
    if mode != "plan":
        access.require(request, mode)
    database = _database(database)
    source = request.POST if request.method == "POST" else request.GET
    to = source.get("to") or None
    backup = source.get("backup") or None  # an unknown mode: the plan says so
    atomic = source.get("atomic") == "on" or None
    if request.method == "POST":
        token, again = _once(request)
        if again is not None:
            return again
        deployment = attempt(
            request,
            lambda: services.apply(
                database,
                actor=access.actor(request)[0],
                user_id=request.user.pk,
                to=to,
                dry_run=mode == "dry_run",
                backup=backup,
                atomic=atomic,
                allow_partial_rollback=source.get("allow_partial_rollback") == "on",
                # Only users allowed to override lint can (the service refuses otherwise).
                lint_override=source.get("lint_override")
                if access.can(request, "override_lint")
                else None,
            ),
        )
        if deployment is None:
            return to_console()
        what = "Dry run started" if mode == "dry_run" else "Applying"
        return _started(request, token, deployment, what)
    result, refused = problem(lambda: services.plan(database, to=to, atomic=atomic, backup=backup))
    titles = {"plan": "Plan", "apply": "Apply", "dry_run": "Dry run"}
    return page(
        request,
        "apply.html",
        f"{titles[mode]}: {database}",
        {
            "database": database,
            "plan": result,
            "refused": refused,
            "mode": mode,
            "dry_run": mode == "dry_run",
            "to": to or "",
            "backup": backup or migrator_settings.BACKUP,
            "backup_modes": BACKUP_MODES,
            "atomic": bool(atomic),
            "token": secrets.token_urlsafe(16),
            "versions": _pending_versions(database),
            **plan_reports.context(request, database, result),
        },
    )


def _pending_versions(database: str) -> list[str]:
    report, _ = problem(lambda: services.status(database))
    if report is None:
        return []
    return list(report["databases"][0]["pending"])


@require_http_methods(["GET", "POST"])
def rollback(request: HttpRequest, database: str) -> HttpResponse:
    """The backward plan (GET) and the rollback or its dry run (POST): to a version, by a
    number of migrations, or one release."""
    access.require_view(request)
    access.require(request, "rollback")
    database = _database(database)
    source = request.POST if request.method == "POST" else request.GET
    to = source.get("to") or None
    release = source.get("release") or None
    count, refused = _count(database, source.get("count"), release)
    dry_run = source.get("mode", source.get("dry_run", "")) in ("dry_run", "1")
    if to is None and count is None and not refused:
        count = 1
    if request.method == "POST" and not refused:
        token, again = _once(request)
        if again is not None:
            return again
        deployment = attempt(
            request,
            lambda: services.rollback(
                database,
                actor=access.actor(request)[0],
                user_id=request.user.pk,
                to=to,
                count=count if to is None else None,
                dry_run=dry_run,
            ),
        )
        if deployment is None:
            return to_console()
        what = "Dry run of the rollback started" if dry_run else "Rolling back"
        return _started(request, token, deployment, what)
    if request.method == "POST":
        messages.error(request, refused)
        return to_console()
    plan = None
    if not refused:
        plan, refused = problem(
            lambda: services.plan(
                database, direction="backward", to=to, count=count if to is None else None
            )
        )
    what = f"release {release}" if release else (f"to {to}" if to else f"{count} migration(s)")
    return page(
        request,
        "rollback.html",
        f"Roll back {database}: {what}",
        {
            "database": database,
            "plan": plan,
            "refused": refused,
            "to": to or "",
            "count": count or "",
            "release": release or "",
            "dry_run": dry_run,
            "token": secrets.token_urlsafe(16),
        },
    )


def _count(database: str, raw: str | None, release: str | None) -> tuple[int | None, str]:
    """How many migrations the rollback takes back (by ``count`` or ``release``)."""
    if release:
        report, refused = problem(lambda: services.status(database))
        if report is None:
            return None, refused
        for entry in releases(report["databases"][0]["migrations"]):
            if entry["release"] == release:
                return int(entry["count"]), ""
        return None, f"release {release!r} has no applied migration on {database}"
    if raw in (None, ""):
        return None, ""
    try:
        value = int(str(raw))
    except ValueError:
        return None, f"count must be a whole number, not {raw!r}"
    if value < 1:
        return None, "count must be 1 or more"
    return value, ""


@require_http_methods(["GET", "POST"])
def unlock(request: HttpRequest, database: str) -> HttpResponse:
    """Remove the lock row of a worker that is gone."""
    access.require_view(request)
    access.require(request, "unlock")
    database = _database(database)
    from ...models import TargetLock

    lock = TargetLock.objects.filter(database=database).select_related("deployment").first()
    if request.method == "POST":
        force = request.POST.get("force") == "on"
        done = attempt(
            request,
            lambda: services.unlock(database, actor=access.actor(request)[0], force=force),
        )
        if done:
            messages.success(request, f"{database} unlocked.")
        elif done is False:
            messages.info(request, f"{database} was not locked.")
        return to_console()
    from ...engine import locks

    alive = lock is not None and locks.lock_holder_alive(lock)
    return page(
        request,
        "confirm.html",
        f"Unlock {database}",
        {
            "action": "unlock",
            "label": "Unlock",
            "lock": lock,
            "alive": alive,
            "what": (
                f"Removes the lock of {locks.describe(lock)}."
                if lock is not None
                else f"{database} is not locked: nothing to do."
            ),
            "force_field": alive,
            "possible": lock is not None,
        },
    )


@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    """Mark deployments whose worker is gone interrupted (then Resume or Cancel them)."""
    access.require_view(request)
    access.require(request, "recover")
    from ...models import Deployment
    from ...states import ACTIVE

    if request.method == "POST":
        actor, user_id = access.actor(request)
        found = attempt(request, lambda: services.recover(actor=actor, user_id=user_id))
        if found:
            messages.success(request, f"Interrupted: {', '.join(f'#{d}' for d in found)}.")
        elif found == []:
            messages.info(request, "Every active deployment has a live worker: nothing to do.")
        return to_console()
    active = list(Deployment.objects.filter(status__in=list(ACTIVE)).order_by("pk")[:100])
    gone = [d for d in active if not services.worker_alive(d)]
    return page(
        request,
        "confirm.html",
        "Recover deployments whose worker is gone",
        {
            "action": "recover",
            "label": "Recover",
            "deployments": gone,
            "what": (
                "These deployments will be marked interrupted, with their runs and steps in "
                "flight, and their locks freed; then Resume or Cancel each."
                if gone
                else "Every active deployment has a live worker: nothing to recover."
            ),
            "possible": bool(gone),
        },
    )
