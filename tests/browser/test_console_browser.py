"""The console in a real headless Chromium: an operator clicks through dry run, apply, live
progress, pause/resume and rollback of the demo's releases; a viewer sees no buttons and
is refused; a second user approves a gated deployment. Screenshots of each page are saved
(docs/console/ keeps a selection of them)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from migrator.models import Deployment, Migration
from migrator.states import Status

from ..conftest import write
from ..engine.helpers import checksum, items_migration, transform_migration, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.browser,
]


def _target(page: Any, database: str = "default") -> Any:
    return page.locator(f"section.mg-target[data-database='{database}']")


def _press(page: Any, label: str) -> None:
    """Press the confirmation form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator("form[method=post]").get_by_role("button", name=label, exact=True).click()


def _wait_finished(page: Any, timeout: float = 60_000) -> None:
    """Wait, on a deployment page, until the live script has seen the end and rendered
    the final body (it dispatches ``migrator:finished``)."""
    page.wait_for_selector("#mg-deployment[data-final='1']", state="attached", timeout=timeout)


def _planned(page: Any) -> list[str]:
    """The versions a confirmation page lists, in order."""
    return [
        row.get_attribute("data-version") for row in page.locator("table.mg-plan tr.mg-run").all()
    ]


def _deployment_id(page: Any) -> int:
    found = re.search(r"/deployment/(\d+)/", page.url)
    assert found, page.url
    return int(found.group(1))


@pytest.fixture
def demo(settings: Any) -> None:
    """The demo's catalog (release 1.0 to 1.3 on sample_tenant) with 3,000 tenants,
    deployments run by the embedded thread backend inside the live server's process."""
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "thread"}
    call_command("demo_data", "--tenants", "3000", stdout=io.StringIO())
    call_command("migrator", "sync", stdout=io.StringIO())


def test_operator_dry_runs_applies_watches_and_rolls_back_releases(
    page: Any, live_server: Any, login: Any, make_user: Any, shot: Any, demo: None
) -> None:
    make_user("operator", "apply", "rollback", "control")
    login(page, "operator")
    shot(page, "dashboard-pending")
    target = _target(page)
    assert target.get_by_role("link", name="Apply", exact=True).is_visible()

    # Dry run: confirmation, then the rendered report; the database is not changed.
    target.get_by_role("link", name="Dry run", exact=True).click()
    page.wait_for_url("**/dry-run/**")
    assert "is not changed" in page.content()
    _press(page, "Dry run")
    _wait_finished(page)
    body = page.locator("#mg-deployment-body")
    assert "Dry run report" in body.inner_text()
    assert "Schema diff" in body.inner_text() and "sample_tenant_tier" in body.inner_text()
    shot(page, "dry-run-report")
    assert "sample_tenant_tier" not in connection.introspection.table_names()
    assert not Migration.objects.filter(applied=True, database="default").exists()

    # Apply up to the end of release 1.1, chosen on the confirmation page.
    page.goto(f"{live_server.url}/admin/migrator/console/")
    _target(page).get_by_role("link", name="Apply", exact=True).click()
    page.select_option("select[name=to]", "1.1.0")
    with page.expect_navigation():
        page.get_by_role("button", name="Plan", exact=True).click()
    versions = _planned(page)
    assert versions == ["1.0.0", "1.0.1", "1.1.0"]
    shot(page, "apply-confirmation")
    _press(page, "Apply")
    _wait_finished(page)
    assert Deployment.objects.get(pk=_deployment_id(page)).status == Status.SUCCEEDED
    at_1_1 = checksum("sample_tenant")

    # Apply the rest and watch the bar reach 100% without the page being reloaded.
    page.goto(f"{live_server.url}/admin/migrator/console/")
    _target(page).get_by_role("link", name="Apply", exact=True).click()
    page.wait_for_url("**/apply/**")
    _press(page, "Apply")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    _wait_finished(page)
    bar = page.locator(".mg-progress")
    assert bar.get_attribute("data-status") == "succeeded"
    assert bar.get_attribute("data-percent") == "100"
    assert page.locator(".mg-fill").evaluate("el => el.style.width") == "100%"
    assert navigations == [], "the page was not reloaded"
    events = page.locator("#mg-events").inner_text()
    assert "1.3.3" in events and "operator" in events
    shot(page, "deployment-succeeded")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sample_tenant_tier")
        assert cursor.fetchone()[0] == 3000

    # Roll back release 1.3, then 1.2: the tenants are exactly as they were at 1.1.
    for release in ("1.3", "1.2"):
        page.goto(f"{live_server.url}/admin/migrator/console/")
        _target(page).get_by_role("link", name=f"Roll back release {release}").click()
        page.wait_for_url("**/rollback/**")
        confirmation = page.content()
        assert "will be <strong>rolled back</strong>" in confirmation
        rolled = _planned(page)
        assert rolled == (
            ["1.3.3", "1.3.2", "1.3.1", "1.3.0"] if release == "1.3" else ["1.2.1", "1.2.0"]
        )
        if release == "1.3":
            assert "DROP TABLE" in confirmation  # the backward SQL is shown
            shot(page, "rollback-confirmation")
        _press(page, "Roll back")
        _wait_finished(page)
        deployment = Deployment.objects.get(pk=_deployment_id(page))
        assert deployment.status == Status.SUCCEEDED, deployment.error
        assert deployment.requested_by == "admin:operator"
    assert checksum("sample_tenant") == at_1_1
    page.goto(f"{live_server.url}/admin/migrator/console/")
    assert _target(page).locator(".mg-version").inner_text() == "1.1.0"
    shot(page, "dashboard-after-rollback")


@pytest.fixture
def slow_items(catalog_dir: Path, settings: Any) -> Path:
    """3,000 items and a transform in 30 batches with a pause between them (about 6 s)."""
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "thread"}
    write(catalog_dir, "001_items.sql", items_migration())
    write(
        catalog_dir,
        "002_bump.py",
        transform_migration(batch_size=100, pause_between_batches=0.2),
    )
    return catalog_dir


def test_live_progress_pause_and_resume(
    page: Any, live_server: Any, login: Any, make_user: Any, shot: Any, slow_items: Path
) -> None:
    before = checksum("items") if "items" in connection.introspection.table_names() else None
    assert before is None
    make_user("operator", "apply", "control")
    login(page, "operator")
    _target(page).get_by_role("link", name="Apply", exact=True).click()
    page.wait_for_url("**/apply/**")
    _press(page, "Apply")
    deployment_id = _deployment_id(page)
    bar = page.locator(".mg-progress")

    # The bar moves while the transform runs, without a reload.
    page.wait_for_function(
        "() => { const p = Number(document.querySelector('.mg-progress').dataset.percent);"
        " return p > 0 && p < 100; }",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => /of 3,000 rows/.test(document.querySelector('.mg-rows').textContent)",
        timeout=30_000,
    )
    assert "rows/s" in page.locator(".mg-rate").inner_text()
    shot(page, "deployment-running")

    # Pause from the deployment page.
    page.get_by_role("link", name="Pause", exact=True).click()
    _press(page, "Pause")
    paused = wait_for(deployment_id, {Status.PAUSED.value})
    done_when_paused = paused.runs.get(migration__version="002").rows_done
    assert 0 < done_when_paused < 3000
    page.reload()
    assert bar.get_attribute("data-status") == "paused"
    assert page.get_by_role("link", name="Resume", exact=True).is_visible()
    assert not page.get_by_role("link", name="Pause", exact=True).count()
    shot(page, "deployment-paused")

    page.get_by_role("link", name="Resume", exact=True).click()
    _press(page, "Resume")
    _wait_finished(page)
    assert bar.get_attribute("data-status") == "succeeded"
    run = Deployment.objects.get(pk=deployment_id).runs.get(migration__version="002")
    assert run.rows_done == 3000
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM items WHERE note = 'changed'")
        assert cursor.fetchone()[0] == 3000
    timeline = page.locator("#mg-events").inner_text().lower()
    assert "paused" in timeline and "resumed" in timeline


def test_viewer_sees_no_buttons_and_is_refused(
    page: Any, live_server: Any, login: Any, make_user: Any, shot: Any, demo: None
) -> None:
    make_user("viewer")
    login(page, "viewer")
    shot(page, "dashboard-viewer")
    target = _target(page)
    assert target.get_by_role("link", name="Plan", exact=True).is_visible()
    for label in ("Apply", "Dry run", "Roll back", "Unlock"):
        assert target.get_by_role("link", name=label, exact=True).count() == 0, label
    for label in ("Sync", "Repair", "Recover"):
        assert page.get_by_role("link", name=label, exact=True).count() == 0, label
    base = f"{live_server.url}/admin/migrator/console"
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": csrf, "Referer": f"{base}/"}
    for path in (
        "target/default/apply/",
        "target/default/dry-run/",
        "target/default/rollback/?count=1",
        "target/default/unlock/",
        "sync/",
        "repair/",
        "recover/",
    ):
        assert page.request.get(f"{base}/{path}").status == 403, path
        answer = page.request.post(f"{base}/{path}", headers=headers, form={"token": "x"})
        assert answer.status == 403, path
    assert not Deployment.objects.exists()


def test_approval_by_a_second_user(
    page: Any,
    browser: Any,
    live_server: Any,
    login: Any,
    make_user: Any,
    shot: Any,
    demo: None,
    settings: Any,
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "APPROVAL_RISK": "low"}
    make_user("alice", "apply", "approve")
    make_user("bob", "approve")
    login(page, "alice")
    _target(page).get_by_role("link", name="Apply", exact=True).click()
    page.wait_for_url("**/apply/**")
    _press(page, "Apply")
    deployment_id = _deployment_id(page)
    assert page.locator(".mg-progress").get_attribute("data-status") == "awaiting_approval"
    # The requester may not approve her own deployment.
    assert page.get_by_role("link", name="Approve", exact=True).count() == 0
    shot(page, "deployment-awaiting-approval")
    assert not Migration.objects.filter(applied=True, database="default").exists()

    other = browser.new_context(viewport={"width": 1280, "height": 900})
    bob = other.new_page()
    login(bob, "bob")
    bob.goto(f"{live_server.url}/admin/migrator/console/deployment/{deployment_id}/")
    bob.get_by_role("link", name="Approve", exact=True).click()
    _press(bob, "Approve")
    _wait_finished(bob)
    deployment = Deployment.objects.get(pk=deployment_id)
    assert deployment.status == Status.SUCCEEDED, deployment.error
    assert deployment.approved_by == "admin:bob"
    assert "approved" in bob.locator("#mg-events").inner_text().lower()
    other.close()
    # Alice's page, still open, followed it to the end by itself.
    _wait_finished(page)
    assert page.locator(".mg-progress").get_attribute("data-status") == "succeeded"


def test_admin_pages_fit_a_1280_pixel_screen(
    page: Any, live_server: Any, login: Any, make_user: Any, shot: Any, catalog_dir: Path
) -> None:
    """Readable list columns: no page of migrator's admin scrolls sideways at 1280 px."""
    from bench._population import admin_models, populate

    populate(catalog_dir, migrations=30, deployments=40, runs=120)
    make_user("root", superuser=True)
    login(page, "root")
    deployment = Deployment.objects.latest("pk")
    paths = [
        "/admin/migrator/console/",
        f"/admin/migrator/console/deployment/{deployment.pk}/",
        f"/admin/migrator/deployment/{deployment.pk}/change/",
        f"/admin/migrator/event/?deployment={deployment.pk}",
    ] + [f"/admin/migrator/{name}/" for name in admin_models()]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{path} is {width} px wide"
        # The admin scrolls a wide list inside its own box: that counts as too wide too.
        hidden = page.evaluate(
            "() => { const r = document.querySelector('#changelist .results');"
            " return r ? r.scrollWidth - r.clientWidth : 0; }"
        )
        if hidden > 0:
            shot(page, "too-wide")
        assert hidden <= 0, f"{path}: {hidden} px of the list are scrolled out of view"
    page.goto(f"{live_server.url}/admin/migrator/deployment/")
    shot(page, "admin-deployments")
