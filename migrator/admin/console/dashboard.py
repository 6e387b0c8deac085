"""The console's front page: every target, what runs on it, and what an operator can do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from ... import services
from ...catalog import CatalogError
from ...exceptions import MigratorError
from ...models import Deployment
from ...states import UNFINISHED
from . import access
from .common import page
from .deployment_page import percent

#: Finished deployments listed per target (the rest are in the deployments list).
LAST = 10


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
    for target in report["databases"]:
        context["targets"].append(_target(target))
    return page(request, "dashboard.html", "Migrations console", context)


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
        .order_by("-pk")[:LAST]
    )
    migrations = target["migrations"]
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
        "migrations": migrations,
    }


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
