"""Schema versions as tables (tables, columns, indexes, constraints), any two compared
side by side with their differences, and the raw capture as a download."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from ...exceptions import MigratorError
from ...models import SchemaVersion
from ...schema.compat import compare as compare_schemas
from . import access
from .common import page, problem

if TYPE_CHECKING:
    from ... import services
    from ...services import compat
else:
    from .deferred import compat, services


def tables_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A schema's tables in name order, each with its parts as rows for a template."""
    found = []
    for name, table in sorted((schema.get("tables") or {}).items()):
        found.append(
            {
                "name": name,
                "rows": table.get("rows"),
                "bytes": table.get("bytes"),
                "primary_key": table.get("primary_key") or [],
                "columns": [
                    {"name": column, **info}
                    for column, info in (table.get("columns") or {}).items()
                ],
                "indexes": [
                    {"name": index, **info}
                    for index, info in sorted((table.get("indexes") or {}).items())
                ],
                "constraints": [
                    {"name": constraint, **info}
                    for constraint, info in sorted((table.get("constraints") or {}).items())
                ],
            }
        )
    return found


@require_GET
def schema_version(request: HttpRequest, version_id: int) -> HttpResponse:
    access.require_view(request)
    version = get_object_or_404(SchemaVersion.objects.select_related("deployment"), pk=version_id)
    others = list(
        SchemaVersion.objects.filter(database=version.database)
        .exclude(pk=version.pk)
        .order_by("-captured_at")
        .values("pk", "version", "release", "captured_at")[:200]
    )
    schema = version.schema or {}
    return page(
        request,
        "schema.html",
        f"Schema of {version.database} at {version.version}",
        {
            "version": version,
            "tables": tables_of(schema),
            "views": sorted((schema.get("views") or {}).keys()),
            "others": others,
        },
    )


@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """Two schema versions side by side: the differences first, then each table."""
    access.require_view(request)
    left = get_object_or_404(SchemaVersion, pk=request.GET.get("a") or 0)
    right = get_object_or_404(SchemaVersion, pk=request.GET.get("b") or 0)
    old, new = left.schema or {}, right.schema or {}
    compared = compare_schemas(old, new)
    changes = compared["changes"]
    old_tables = {t["name"]: t for t in tables_of(old)}
    new_tables = {t["name"]: t for t in tables_of(new)}
    pairs = [
        {"name": name, "left": old_tables.get(name), "right": new_tables.get(name)}
        for name in sorted(set(old_tables) | set(new_tables))
    ]
    changed = {c["table"] for c in changes}
    return page(
        request,
        "compare.html",
        f"{left.database}: {left.version} → {right.version}",
        {
            "left": left,
            "right": right,
            "changes": changes,
            "level": compared["level"],
            "breaking": sum(1 for c in changes if c["breaking"]),
            "pairs": pairs,
            "changed": changed,
        },
    )


@require_GET
def matrix(request: HttpRequest, database: str) -> HttpResponse:
    """Every upgrade pair of the target's recorded schema versions, graded by level."""
    access.require_view(request)
    by_release = request.GET.get("by") == "release"
    try:
        data = compat.matrix(database, by_release=by_release)
    except MigratorError as exc:
        raise Http404(str(exc)) from exc
    if request.GET.get("format") == "csv":
        response = HttpResponse(compat.matrix_csv(data), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="compat-{database}.csv"'
        return response
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    versions = [v["version"] for v in data["versions"]]
    cells = {(p["from"], p["to"]): p for p in data["pairs"]}
    rows = [
        {"version": row, "cells": [cells.get((row, column)) for column in versions]}
        for row in versions
    ]
    return page(
        request,
        "matrix.html",
        f"Compatibility of {database}",
        {
            "database": database,
            "versions": data["versions"],
            "rows": rows,
            "pairs": data["pairs"],
            "by_release": by_release,
        },
    )


@require_GET
def upgrade_path(request: HttpRequest, database: str) -> HttpResponse:
    """The hops from the current version to a chosen one, with stops and estimates."""
    access.require_view(request)
    to = request.GET.get("to") or None
    data, refused = problem(lambda: services.path(database, to))
    versions, _ = problem(lambda: services.status(database))
    choices = [m["version"] for m in versions["databases"][0]["migrations"]] if versions else []
    return page(
        request,
        "path.html",
        f"Path of {database}",
        {
            "database": database,
            "path": data,
            "refused": refused,
            "to": to or "",
            "choices": choices,
        },
    )


@require_GET
def schema_json(request: HttpRequest, version_id: int) -> HttpResponse:
    access.require_view(request)
    version = get_object_or_404(SchemaVersion, pk=version_id)
    response = HttpResponse(
        json.dumps(version.schema, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="schema-{version.database}-{version.version}.json"'
    )
    return response
