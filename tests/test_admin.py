"""Every model is in the admin; execution state is read-only; the console shows status."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from migrator import models
from migrator.models import Deployment, Migration

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db

ALL_MODELS = [
    models.Migration,
    models.Step,
    models.SchemaVersion,
    models.Deployment,
    models.Run,
    models.StepRun,
    models.Event,
    models.Backup,
    models.TargetLock,
]


def test_every_model_is_registered() -> None:
    for model in ALL_MODELS:
        assert admin.site.is_registered(model), model


def test_changelists_render_and_nothing_is_editable(admin_client, cli, catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    cli("sync")
    live = Deployment.objects.create(direction="forward", requested_by="t")
    dry = Deployment.objects.create(direction="forward", requested_by="t", dry_run=True)
    listed = admin_client.get(reverse("admin:migrator_deployment_changelist")).content.decode()
    for deployment in (live, dry):
        page = reverse("admin:migrator_console_deployment", args=[deployment.pk])
        assert f'<a href="{page}">#{deployment.pk}</a>' in listed
    assert listed.count('<span class="mg-badge mg-dry">dry run</span>') == 1
    for model in ALL_MODELS:
        opts = model._meta
        response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, model
        assert (
            admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code
            == 403
        )
    migration = Migration.objects.get()
    url = reverse("admin:migrator_migration_change", args=[migration.pk])
    response = admin_client.post(url, {"name": "hacked"})
    assert response.status_code == 403
    history = reverse("admin:migrator_migration_history", args=[migration.pk])
    assert admin_client.get(history).status_code == 200


@pytest.mark.parametrize("as_superuser", [True, False])
def test_history_forms_never_write_execution_state(
    client, django_user_model, cli, catalog_dir: Path, as_superuser: bool
) -> None:
    """simple-history's revert form saves old versions of rows: it must write nothing."""
    write(catalog_dir, "1_a.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    cli("baseline", "--version", "1")
    deployment = Deployment.objects.create(direction="forward", requested_by="t")
    deployment.status = "queued"
    deployment.save()
    if as_superuser:
        user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    else:
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(
                codename__startswith="view_", content_type__app_label="migrator"
            )
        )
    client.force_login(user)
    migration = Migration.objects.get()
    assert migration.applied
    for obj, field, value in ((migration, "applied", ""), (deployment, "status", "running")):
        opts = obj._meta
        version = obj.history.order_by("history_id").first()
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_simple_history",
            args=[obj.pk, version.history_id],
        )
        assert client.get(url).status_code == 200  # reading history stays possible
        response = client.post(url, {field: value, "name": "x", "database": "default"})
        assert response.status_code == 403
    migration.refresh_from_db()
    deployment.refresh_from_db()
    assert migration.applied and deployment.status == "queued"


def test_console_shows_each_target(admin_client, cli, catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    write(catalog_dir, "2_b.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    cli("baseline", "--version", "1")
    html = admin_client.get(reverse("admin:migrator_console")).content.decode()
    assert 'data-database="default"' in html
    assert '<span class="mg-version">1</span>' in html
    assert 'class="mg-row-pending" data-version="2"' in html
    assert 'class="mg-row-applied" data-version="1"' in html


def test_console_shows_catalog_problems(admin_client, catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.sql", "no markers\n")
    html = admin_client.get(reverse("admin:migrator_console")).content.decode()
    assert "1_a.sql" in html and "no UP section" in html


def test_console_needs_staff(client) -> None:
    response = client.get(reverse("admin:migrator_console"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def _deployment_with_runs(count: int) -> Deployment:
    deployment = Deployment.objects.create(direction="forward", requested_by="t")
    for order in range(1, count + 1):
        migration = Migration.objects.create(
            version=f"{deployment.pk}.{order}", name="m", source="x", format="sql", checksum="v1:x"
        )
        models.Run.objects.create(
            deployment=deployment, migration=migration, order=order, direction="forward"
        )
    return deployment


def test_deployment_page_queries_do_not_grow_with_its_runs(admin_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    warm = _deployment_with_runs(1)  # the first change page fills per-process caches
    admin_client.get(reverse("admin:migrator_deployment_change", args=[warm.pk]))
    counts = []
    for runs in (1, 6):
        deployment = _deployment_with_runs(runs)
        url = reverse("admin:migrator_deployment_change", args=[deployment.pk])
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
