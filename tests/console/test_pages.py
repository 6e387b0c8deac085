"""The console through Django's test client: every page renders, every action goes through
its confirmation and the services, the acting user is recorded, and permissions hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from migrator.models import Deployment, Event, Migration
from migrator.states import Status

from ..conftest import marker_sql, write
from ..engine.helpers import checksum, items_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])

DOUBLE = marker_sql("UPDATE items SET qty = qty * 2;", "UPDATE items SET qty = qty / 2;")
TRANSFORM = (
    "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
    "    release = '2.0'\n"
    "    steps = [dsl.Transform(table='items', set={'qty': 'qty + 5', 'note': \"'x'\"},"
    " batch_size=500)]\n"
)


@pytest.fixture
def catalog(catalog_dir: Path, settings: Any) -> Path:
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "inline"}
    write(catalog_dir, "001_items.sql", "-- Release: 1.0\n" + items_migration())
    write(catalog_dir, "002_double.sql", "-- Release: 1.0\n" + DOUBLE)
    write(catalog_dir, "003_transform.py", TRANSFORM)
    return catalog_dir


def _token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, "the confirmation form has a token"
    return found.group(1)


def _text(response: Any) -> str:
    return response.content.decode()


def _submit(client: Any, url: str, **extra: str) -> Any:
    """Open a confirmation page and press its button, as a browser would: the form's
    hidden fields are posted back to the page's own path."""
    html = _text(client.get(url))
    form = html[html.index('<form method="post"') :]
    form = form[: form.index("</form>")]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken", None)
    return client.post(url.split("?")[0], {**fields, **extra})


def test_dashboard_shows_targets_versions_and_the_buttons(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    response = client.get(reverse("admin:migrator_console"))
    html = _text(response)
    assert response.status_code == 200
    for label in ("Plan", "Dry run", "Apply", "Sync", "Verify", "Repair", "Recover"):
        assert f">{label}</a>" in html, label
    assert "001" in html and "3 pending" in html
    # The app's own entry in the admin index leads there.
    index = _text(client.get(reverse("admin:index")))
    assert reverse("admin:migrator_console_changelist") in index
    assert client.get(reverse("admin:migrator_console_changelist")).status_code == 200


def test_apply_confirms_then_applies_as_the_admin_user(client, make_user, catalog) -> None:
    user = make_user("root", superuser=True)
    client.force_login(user)
    url = reverse("admin:migrator_console_apply", args=["default"])
    page = client.get(url)
    html = _text(page)
    assert "UPDATE items SET qty = qty * 2;" in html  # the SQL is on the confirmation
    assert "exact: backward SQL" in html and "qty + 5" in html
    assert not Deployment.objects.exists()  # a GET changes nothing
    response = client.post(url, {"token": _token(html)})
    assert response.status_code == 302
    deployment = Deployment.objects.get()
    assert response["Location"] == reverse(
        "admin:migrator_console_deployment", args=[deployment.pk]
    )
    assert deployment.status == Status.SUCCEEDED and deployment.requested_by == "admin:root"
    assert deployment.requested_by_user == user
    migration = Migration.objects.get(version="002")
    assert migration.applied
    users = set(migration.history.values_list("history_user", flat=True))
    assert users == {user.pk}, "every history row names the admin user"
    assert Event.objects.filter(deployment=deployment, actor="admin:root").exists()
    page = _text(client.get(response["Location"]))
    assert "Succeeded" in page or "succeeded" in page
    # The same form again starts nothing new.
    again = client.post(url, {"token": _token(html)})
    assert again["Location"] == response["Location"]
    assert Deployment.objects.count() == 1


def test_dry_run_report_is_rendered_and_labelled(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    url = reverse("admin:migrator_console_dry_run", args=["default"])
    html = _text(client.get(url))
    assert "dry run" in html.lower() and "is not changed" in html
    response = client.post(url, {"token": _token(html)})
    deployment = Deployment.objects.get()
    assert deployment.dry_run and deployment.status == Status.SUCCEEDED
    page = _text(client.get(response["Location"]))
    assert "Dry run #" in page and "Dry run report" in page
    assert "Schema diff" in page and "table added" in page and "items" in page
    assert "3,000" in page  # true row counts of the statements
    assert "items" not in connection.introspection.table_names()  # nothing changed
    listing = _text(client.get(reverse("admin:migrator_console")))
    assert "dry run" in listing
    raw = client.get(reverse("admin:migrator_console_report", args=[deployment.pk]))
    assert raw["Content-Type"] == "application/json" and b'"schema_diff"' in raw.content


def test_a_big_scripts_pages_show_its_ends_and_say_what_they_leave_out(
    client, make_user, catalog_dir: Path, settings: Any
) -> None:
    """A dump turned migration (here 1,000 statements): the plan and the dry-run report
    show the beginning and the end of the script, and say how much they leave out."""
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "inline"}
    rows = "\n".join(f"INSERT INTO dumped VALUES ({i});" for i in range(1000))
    write(
        catalog_dir,
        "001_dump.sql",
        marker_sql(f"CREATE TABLE dumped (id INTEGER);\n{rows}", "DROP TABLE dumped;"),
    )
    client.force_login(make_user("root", superuser=True))
    plan = _text(client.get(reverse("admin:migrator_console_apply", args=["default"])))
    assert "INSERT INTO dumped VALUES (0);" in plan and "INSERT INTO dumped VALUES (999);" in plan
    assert "INSERT INTO dumped VALUES (500);" not in plan
    assert "-- … 701 more lines, in the migration" in plan  # 280 + 20 of 1,001 shown
    url = reverse("admin:migrator_console_dry_run", args=["default"])
    response = client.post(url, {"token": _token(_text(client.get(url)))})
    deployment = Deployment.objects.get()
    assert deployment.status == Status.SUCCEEDED
    report = _text(client.get(response["Location"]))
    assert "INSERT INTO dumped VALUES (198)" in report  # each statement with its rows
    assert "INSERT INTO dumped VALUES (199)" not in report
    assert "and 801 more statements" in report  # 200 of 1,001 shown
    raw = client.get(reverse("admin:migrator_console_report", args=[deployment.pk]))
    assert b"INSERT INTO dumped VALUES (500)" in raw.content


def test_roll_back_a_release_restores_the_data_exactly(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    apply_url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, apply_url + "?to=002")
    before = checksum("items")
    _submit(client, apply_url)
    assert checksum("items") != before
    dashboard = _text(client.get(reverse("admin:migrator_console")))
    assert "Roll back release 2.0" in dashboard
    url = reverse("admin:migrator_console_rollback", args=["default"]) + "?release=2.0"
    html = _text(client.get(url))
    assert "003" in html and "exact: captured data" in html and "3,000" in html
    response = _submit(client, url, mode="rollback")
    deployment = Deployment.objects.latest("pk")
    assert response.status_code == 302 and deployment.direction == "backward"
    assert deployment.status == Status.SUCCEEDED
    assert checksum("items") == before
    assert not Migration.objects.get(version="003").applied


def test_a_failed_deployment_says_what_failed_and_what_was_undone(
    client, make_user, catalog
) -> None:
    client.force_login(make_user("root", superuser=True))
    before = checksum("items") if "items" in connection.introspection.table_names() else None
    write(
        catalog,
        "004_broken.sql",
        marker_sql(
            "UPDATE items SET qty = qty + 1;\nINSERT INTO no_such_table VALUES (1);",
            "UPDATE items SET qty = qty - 1;",
        ),
    )
    response = _submit(client, reverse("admin:migrator_console_apply", args=["default"]))
    deployment = Deployment.objects.get()
    assert deployment.status == Status.ROLLED_BACK
    assert before is None and "items" not in connection.introspection.table_names()
    page = _text(client.get(response["Location"]))
    failure = page[page.index("What failed") : page.index("Automatic rollback")]
    assert "Migration <strong>004</strong>, step 1" in failure
    assert "no_such_table" in failure  # the database's message and the statement
    assert "Statement at line 4" in failure and "INSERT INTO no_such_table" in failure
    assert "Every change of this deployment was undone." in page
    assert page.index("What failed") < page.index("<h2>Runs</h2>"), "at the top"


def test_apply_confirmation_shows_breaking_changes_found_by_a_dry_run(
    client, make_user, catalog_dir: Path, settings
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "inline"}
    write(catalog_dir, "001_items.sql", items_migration())
    write(
        catalog_dir,
        "002_drop_note.sql",
        marker_sql(
            "ALTER TABLE items DROP COLUMN note;", "ALTER TABLE items ADD COLUMN note TEXT;"
        ),
    )
    client.force_login(make_user("root", superuser=True))
    url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, url + "?to=001")
    assert "Breaking changes" not in _text(client.get(url)), "nothing known before a dry run"
    _submit(client, reverse("admin:migrator_console_dry_run", args=["default"]))
    html = _text(client.get(url))
    box = html[html.index("Breaking changes") :]
    assert "column removed" in box and "items" in box and "note" in box
    dry_run = Deployment.objects.filter(dry_run=True).get()
    assert f"dry run #{dry_run.pk}" in box


def test_lint_gate_needs_the_override_permission_and_a_reason(
    client, make_user, catalog_dir: Path, settings
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": "inline", "LINT_GATE": True}
    write(catalog_dir, "001_items.sql", items_migration())
    write(catalog_dir, "002_drop.sql", marker_sql("ALTER TABLE items DROP COLUMN note;"))
    url = reverse("admin:migrator_console_apply", args=["default"])
    client.force_login(make_user("root", superuser=True))
    _submit(client, url + "?to=001")
    client.logout()

    client.force_login(make_user("operator", "apply"))
    html = _text(client.get(url))
    assert "S102" in html and "drop-column" in html
    assert "Blocking lint findings stop this apply" in html and " disabled>Apply" in html
    response = _submit(client, url, lint_override="forged")
    assert Deployment.objects.count() == 1, "the override is ignored without the permission"
    assert "Lint blocks this apply" in _text(client.get(response["Location"]))
    client.logout()

    client.force_login(make_user("dba", "apply", "override_lint"))
    html = _text(client.get(url))
    assert 'name="lint_override" required' in html
    _submit(client, url, lint_override="note was moved to item_notes in 001")
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Status.SUCCEEDED
    assert deployment.options["lint_override"]["reason"] == "note was moved to item_notes in 001"
    event = Event.objects.get(action="lint_overridden")
    assert event.actor == "admin:dba"


def test_an_unknown_backup_mode_is_refused_not_replaced(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    url = reverse("admin:migrator_console_apply", args=["default"])
    assert "unknown backup mode &#x27;sometimes&#x27;" in _text(
        client.get(url + "?backup=sometimes")
    )
    response = client.post(url, {"token": "t1", "backup": "sometimes"}, follow=True)
    assert "Unknown backup mode" in _text(response)
    assert not Deployment.objects.exists()


def test_a_refused_rollback_says_why_and_offers_no_button(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    url = reverse("admin:migrator_console_rollback", args=["default"]) + "?release=9.9"
    html = _text(client.get(url))
    assert "cannot run" in html and "9.9" in html and ">Roll back</button>" not in html


def test_without_permissions_no_buttons_and_every_action_url_is_forbidden(
    client, make_user, catalog
) -> None:
    client.force_login(make_user("root", superuser=True))
    apply_url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, apply_url + "?to=001")
    deployment = Deployment.objects.get()
    client.logout()
    client.force_login(make_user("viewer"))
    html = _text(client.get(reverse("admin:migrator_console")))
    for label in ("Dry run", "Apply", "Roll back", "Sync", "Repair", "Recover", "Unlock"):
        assert f">{label}</a>" not in html, label
    assert ">Plan</a>" in html and ">Verify</a>" in html
    page = _text(client.get(reverse("admin:migrator_console_deployment", args=[deployment.pk])))
    assert ">Retry</a>" not in page
    actions = [
        reverse("admin:migrator_console_apply", args=["default"]),
        reverse("admin:migrator_console_dry_run", args=["default"]),
        reverse("admin:migrator_console_rollback", args=["default"]),
        reverse("admin:migrator_console_unlock", args=["default"]),
        reverse("admin:migrator_console_recover"),
        reverse("admin:migrator_console_sync"),
        reverse("admin:migrator_console_repair"),
        reverse("admin:migrator_console_restore", args=[1]),
        *(
            reverse("admin:migrator_console_control", args=[deployment.pk, action])
            for action in ("pause", "resume", "cancel", "retry", "approve", "reject")
        ),
    ]
    for url in actions:
        for method in (client.get, client.post):
            assert method(url).status_code == 403, (method, url)
    assert Deployment.objects.count() == 1


def test_approval_gate_needs_another_user(client, make_user, catalog, settings) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "APPROVAL_RISK": "low"}
    alice = make_user("alice", "apply", "approve")
    bob = make_user("bob", "approve")
    client.force_login(alice)
    url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, url + "?to=001")
    deployment = Deployment.objects.get()
    assert deployment.status == Status.AWAITING_APPROVAL
    approve = reverse("admin:migrator_console_control", args=[deployment.pk, "approve"])
    response = client.post(approve, follow=True)
    assert "another user must approve" in _text(response)
    deployment.refresh_from_db()
    assert deployment.status == Status.AWAITING_APPROVAL
    client.logout()
    client.force_login(bob)
    page = _text(client.get(reverse("admin:migrator_console_deployment", args=[deployment.pk])))
    assert ">Approve</a>" in page
    client.post(approve)
    deployment.refresh_from_db()
    assert deployment.status == Status.SUCCEEDED and deployment.approved_by == "admin:bob"


def test_catalog_actions(client, make_user, catalog) -> None:
    client.force_login(make_user("root", superuser=True))
    sync = reverse("admin:migrator_console_sync")
    assert "3 new" in _text(client.get(sync))
    client.post(sync)
    assert Migration.objects.count() == 3
    apply_url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, apply_url + "?to=002")
    write(catalog, "002_double.sql", "-- Release: 1.0\n" + DOUBLE + "\n-- changed\n")
    assert "changed after it was applied" in _text(
        client.get(reverse("admin:migrator_console_verify"))
    )
    repair = reverse("admin:migrator_console_repair")
    assert "002" in _text(client.get(repair))
    assert "needs a reason" in _text(client.post(repair, {"reason": ""}, follow=True))
    client.post(repair, {"reason": "comment added", "version": ["002"]})
    assert "matches its file" in _text(client.get(reverse("admin:migrator_console_verify")))
    recover = _text(client.get(reverse("admin:migrator_console_recover")))
    assert "nothing to recover" in recover


def test_progress_polling_costs_one_query_beyond_the_session(
    client, make_user, catalog, django_assert_max_num_queries
) -> None:
    client.force_login(make_user("root", superuser=True))
    apply_url = reverse("admin:migrator_console_apply", args=["default"])
    _submit(client, apply_url)
    deployment = Deployment.objects.get()
    url = reverse("admin:migrator_console_progress", args=[deployment.pk])
    with django_assert_max_num_queries(3):  # session, user, the deployment row
        data = client.get(url).json()
    assert data["status"] == "succeeded" and data["finished"] is True
    assert data["progress"]["runs_done"] == 3 and data["percent"] == 100.0
    assert any("succeeded" in e["message"] for e in data["progress"]["events"])
