"""The console's front page: every target, what runs on it, and what an operator can do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from ...catalog import CatalogError
from ...conf import migrator_settings
from ...exceptions import MigratorError
from ...models import Deployment
from ...states import UNFINISHED
from . import access
from .common import page
from .deployment_page import percent

if TYPE_CHECKING:
    from ... import services
else:
    from .deferred import services

#: Finished deployments listed per target (the rest are in the deployments list).
LAST = 10
#: Migrations listed per target: the newest applied ones and the first not applied ones
#: (the admin's migration list has them all).
SHOWN_APPLIED = 25
SHOWN_OTHERS = 100
_ID = 987654321  # stands for a primary key in URLs reversed once per page


def dashboard(request: HttpRequest) -> HttpResponse:
    """Per target: versions, counts, lock, unfinished and last deployments, releases and
    migrations with what can be done to each."""
    access.require_view(request)
    context: dict[str, Any] = {"targets": [], "warnings": []}
    try:
        report = services.status()
    except CatalogError as exc:
        context["catalog_problems"] = [str(p) for p in exc.problems]
        report = {"databases": [], "warnings": []}
    except MigratorError as exc:
        context["error"] = str(exc)
        report = {"databases": [], "warnings": []}
    context["warnings"] = report["warnings"]
    # The default target first (it is what most people came for), then the others by name.
    first = migrator_settings.DEFAULT_DATABASE
    for target in sorted(
        report["databases"], key=lambda t: (t["database"] != first, t["database"])
    ):
        context["targets"].append(_target(target))
    context["workers_url"] = workers_url()
    return page(request, "dashboard.html", "Migrations console", context)


def workers_url() -> str | None:
    """Django-RQ's dashboard, when deployments run on RQ and the project mounts its URLs
    (never a link that would answer 404 or 500)."""
    if migrator_settings.BACKEND != "rq":
        return None
    try:
        return reverse("rq_home")
    except NoReverseMatch:
        return None


def _target(target: dict[str, Any]) -> dict[str, Any]:
    alias = target["database"]
    unfinished = list(
        Deployment.objects.filter(database=alias, status__in=list(UNFINISHED)).order_by("pk")
    )
    for deployment in unfinished:
        deployment.percent = percent(deployment.progress or {})  # type: ignore[attr-defined]
    last = list(
        Deployment.objects.filter(database=alias)
        .exclude(status__in=list(UNFINISHED))
        .defer("plan", "report", "progress", "failure", "options")
        .order_by("-pk")[:LAST]
    )
    migrations = target["migrations"]
    shown, hidden = _shown(migrations)
    _link(alias, shown)
    return {
        **target,
        "counts": {
            "applied": len(target["applied"]),
            "pending": len(target["pending"]),
            "drifted": len(target["drifted"]),
            "irreversible": len(target["irreversible"]),
            "unsupported": len(target["unsupported"]),
        },
        "unfinished": unfinished,
        "last": last,
        "releases": releases(migrations),
        "migrations": shown,
        "hidden": hidden,
    }


def _shown(migrations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows the dashboard lists (in catalog order), and how many it leaves out."""
    applied = [i for i, m in enumerate(migrations) if m["state"] == "applied"]
    others = [i for i, m in enumerate(migrations) if m["state"] != "applied"]
    keep = set(applied[-SHOWN_APPLIED:]) | set(others[:SHOWN_OTHERS])
    return [m for i, m in enumerate(migrations) if i in keep], len(migrations) - len(keep)


def _link(database: str, migrations: list[dict[str, Any]]) -> None:
    """Each row's links, built from URLs reversed once (a thousand ``{% url %}`` tags cost
    more than the rest of the page)."""
    change = reverse("admin:migrator_migration_change", args=[_ID])
    deployment = reverse("admin:migrator_console_deployment", args=[_ID])
    rollback = reverse("admin:migrator_console_rollback", args=[database])
    for m in migrations:
        m["url"] = change.replace(str(_ID), str(m["migration_id"])) if m["migration_id"] else ""
        by = m.get("applied_by_deployment")
        m["deployment_url"] = deployment.replace(str(_ID), str(by)) if by else ""
        m["rollback_url"] = f"{rollback}?{urlencode({'to': m['version']})}"


def releases(migrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Applied releases, newest first, each with how many migrations a rollback of it (and
    of the releases after it) takes back."""
    applied = [
        m
        for m in migrations
        if m["state"] in ("applied", "drifted", "missing") and not m["repeatable"]
    ]
    found: list[dict[str, Any]] = []
    for index, migration in enumerate(applied):
        name = migration["release"]
        if not name or (found and found[-1]["release"] == name):
            continue
        found.append({"release": name, "count": len(applied) - index, "first": migration})
    for entry in found:
        entry["size"] = sum(1 for m in applied if m["release"] == entry["release"])
    return list(reversed(found))
