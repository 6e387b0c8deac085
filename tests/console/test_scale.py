"""With a long history the console and every admin page answer with the same number of
queries as with a short one (bench/console_bench.py measures their time at full scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench._population import admin_models, populate
from migrator.models import Deployment, Migration, Run

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


def _pages() -> dict[str, str]:
    """Every page, pointed at records that look the same at both sizes (the newest
    deployment, its first run, the first migration)."""
    deployment = Deployment.objects.latest("pk")
    run = Run.objects.filter(deployment=deployment).order_by("order").first()
    assert run is not None
    migration = Migration.objects.order_by("position").first()
    assert migration is not None
    pages = {
        "dashboard": reverse("admin:migrator_console"),
        "deployment page": reverse("admin:migrator_console_deployment", args=[deployment.pk]),
        "progress": reverse("admin:migrator_console_progress", args=[deployment.pk]),
        "deployment record": reverse("admin:migrator_deployment_change", args=[deployment.pk]),
        "run record": reverse("admin:migrator_run_change", args=[run.pk]),
        "migration record": reverse("admin:migrator_migration_change", args=[migration.pk]),
        "events of a deployment": reverse("admin:migrator_event_changelist")
        + f"?deployment={deployment.pk}",
        "deployments of a year": reverse("admin:migrator_deployment_changelist")
        + f"?created_at__year={deployment.created_at.year}",
        "admin index": reverse("admin:index"),
        "runs of a migration": reverse("admin:migrator_run_changelist")
        + f"?migration__id__exact={migration.pk}",
        "runs of a deployment": reverse("admin:migrator_run_changelist")
        + f"?deployment={deployment.pk}",
    }
    for name in admin_models():
        pages[f"{name} list"] = reverse(f"admin:migrator_{name}_changelist")
    return pages


def _count(client: Any, url: str) -> int:
    """Queries of a page once the process's caches (content types) are warm."""
    client.get(url)
    with CaptureQueriesContext(connections["default"]) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def test_query_counts_do_not_grow_with_the_history(
    admin_client: Any, catalog_dir: Path, settings: Any
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "inline"}
    populate(catalog_dir, migrations=40, deployments=150, runs=450)
    small = {name: _count(admin_client, url) for name, url in _pages().items()}
    populate(catalog_dir, migrations=200, deployments=750, runs=2250)
    assert Deployment.objects.count() == 900 and Run.objects.count() == 2700
    large = {name: _count(admin_client, url) for name, url in _pages().items()}
    assert large == small
    # Small in absolute terms too (no query per row, even on a full page of 100 rows).
    assert max(small.values()) <= 12, small
    assert small["progress"] <= 3, "a live poll costs at most 3 queries"
