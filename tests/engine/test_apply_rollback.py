"""Applying and rolling back, in process (inline backend), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from migrator import services
from migrator.models import Deployment, Event, Migration, Run, SchemaVersion, StepRun
from project.sample.models import Tenant

from ..conftest import marker_sql, write
from .helpers import checksum, items_migration, transform_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    return catalog_dir


def test_demo_goes_to_1_3_and_back_to_1_0_exactly(settings) -> None:
    call_command("demo_data", "--tenants", "2500", stdout=io.StringIO())
    deployment = services.apply("default", actor="t", to="1.0.1", backend="inline")
    assert deployment.status == "succeeded"
    original = checksum("sample_tenant")

    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "succeeded", deployment.error
    config = Tenant.objects.order_by("pk").first().config
    assert "maxMemoryBytes" in config and "maxMemoryMB" not in config
    assert config["syncMode"] in ("full", "normal", "off") and "durabilityMode" not in config
    assert isinstance(config["autoIndexing"], bool)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sample_tenant_tier")
        assert cursor.fetchone()[0] == 2500
    assert services.status("default")["databases"][0]["current_version"] == "1.3.3"
    active = SchemaVersion.objects.get(database="default", active=True)
    assert active.version == "1.3.3" and "sample_tenant_tier" in active.schema["tables"]

    deployment = services.rollback("default", actor="t", to="1.0.1", backend="inline")
    assert deployment.status == "succeeded", deployment.error
    assert checksum("sample_tenant") == original
    assert services.status("default")["databases"][0]["pending"][0] == "1.1.0"
    assert not connection.introspection.table_names().count("sample_tenant_tier")


def test_transform_rollback_restores_exact_values(items: Path) -> None:
    before = checksum("items")
    write(items, "002_bump.py", transform_migration(batch_size=128))
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "succeeded"
    run = deployment.runs.get()
    assert run.rows_done == 3000 and run.rows_total == 3000
    step = run.step_runs.get()
    assert step.batches_done == 24  # ceil(3000 / 128), keyset batches
    with connection.cursor() as cursor:
        cursor.execute("SELECT qty, note FROM items WHERE id = 10")
        assert cursor.fetchone() == (31, "changed")
    assert checksum("items") != before
    assert services.rollback("default", actor="t", backend="inline").status == "succeeded"
    assert checksum("items") == before
    assert not Migration.objects.get(version="002").applied


def test_failing_step_rolls_back_the_whole_deployment_byte_for_byte(items: Path, cli) -> None:
    before = checksum("items")
    write(items, "002_bump.py", transform_migration())
    write(
        items,
        "003_more.sql",
        marker_sql(
            "UPDATE items SET name = name || '!';\nCREATE TABLE extra (id INTEGER PRIMARY KEY);\n"
            "INSERT INTO extra (id) SELECT id FROM items;",
            "DROP TABLE extra;\nUPDATE items SET name = substr(name, 1, length(name) - 1);",
        ),
    )
    write(
        items,
        "004_broken.sql",
        marker_sql("UPDATE items SET qty = 0;\nSELECT * FROM no_such_table;", "SELECT 1;"),
    )
    result = cli("apply", "--yes")
    assert result.code == 1
    # The line is the file's: the Description header and the marker come first.
    assert "004 step 1" in result.err and "line 4" in result.err and "no_such_table" in result.err
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == "rolled_back"
    assert checksum("items") == before
    assert "extra" not in connection.introspection.table_names()
    assert not Migration.objects.filter(version__in=["002", "003", "004"], applied=True).exists()
    directions = list(
        deployment.runs.order_by("order").values_list("migration__version", "direction", "status")
    )
    assert directions == [
        ("002", "forward", "succeeded"),
        ("003", "forward", "succeeded"),
        ("004", "forward", "rolled_back"),
        ("003", "backward", "succeeded"),
        ("002", "backward", "succeeded"),
    ]
    story = [e.message for e in deployment.events.order_by("time", "pk")]
    assert any("rolling_back" in m for m in story) and story[-1].endswith(
        "every change of this deployment was undone"
    )


def test_failure_without_auto_rollback_keeps_completed_work_and_can_resume(items: Path) -> None:
    write(items, "002_bump.py", transform_migration())
    bad = write(items, "003_bad.sql", marker_sql("SELECT * FROM missing_table;", "SELECT 1;"))
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == "failed"
    assert Migration.objects.get(version="002").applied
    # The catalog is fixed by hand: a changed file of a not-yet-applied migration is
    # re-planned, so resuming refuses it and says why.
    bad.write_text(marker_sql("SELECT 1;", "SELECT 1;"))
    resumed = services.resume(deployment.pk, actor="t", backend="inline")
    assert resumed.status == "failed" and "changed since it was planned" in resumed.error


def test_dry_run_reports_and_changes_nothing(items: Path) -> None:
    before = checksum("items")
    write(items, "002_bump.py", transform_migration())
    write(
        items,
        "003_table.sql",
        marker_sql(
            "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, msg TEXT NOT NULL);\nINSERT INTO audit_log VALUES (1, 'x');",
            "DROP TABLE audit_log;",
        ),
    )
    write(
        items,
        "004_idx.sql",
        "-- migrate:up transaction:false\nCREATE INDEX items_qty ON items (qty);\n"
        "-- migrate:down\nDROP INDEX items_qty;\n",
    )
    deployment = services.apply("default", actor="t", dry_run=True, backend="inline")
    assert deployment.status == "succeeded", deployment.error
    report = deployment.report
    runs = {r["version"]: r for r in report["runs"]}
    assert runs["002"]["steps"][0]["rows"] == 3000
    statements = runs["003"]["steps"][0]["statements"]
    assert [(s["line"], s["rows"]) for s in statements] == [(3, statements[0]["rows"]), (4, 1)]
    changes = {(c["change"], c["table"]) for c in report["schema_diff"]}
    assert ("table_added", "audit_log") in changes
    if connection.vendor == "sqlite":
        # A scratch copy of the database: even non-transactional steps run, so their
        # effect is in the diff.
        assert runs["004"]["steps"][0]["executed"] is True
        assert ("index_added", "items") in changes
    else:
        # A rolled-back transaction: CREATE INDEX outside a transaction cannot run in it.
        step = runs["004"]["steps"][0]
        assert step["executed"] is False and "non-transactional" in step["reason"]
    assert checksum("items") == before
    assert "audit_log" not in connection.introspection.table_names()
    assert not Migration.objects.filter(applied=True).exclude(version="001").exists()


def test_rollback_dry_run_shows_backward_sql(items: Path, cli) -> None:
    result = cli("rollback", "--dry-run", "--json")
    assert result.code == 0, result.err
    report = result.json()["report"]
    assert report["runs"][0]["steps"][0]["sql"].strip() == "DROP TABLE items;"
    assert {(c["change"], c["table"]) for c in report["schema_diff"]} == {
        ("table_removed", "items")
    }
    assert "items" in connection.introspection.table_names()


def test_retry_then_skip_policies(items: Path) -> None:
    write(
        items,
        "002_flaky.py",
        (
            "from migrator import dsl\n\n"
            "def flaky(ctx):\n"
            "    with ctx.connection.cursor() as c:\n"
            "        c.execute('SELECT count(*) FROM flaky_attempts')\n"
            "        n = c.fetchone()[0]\n"
            "    if n < 2:\n"
            "        with ctx.connection.cursor() as c:\n"
            "            c.execute('INSERT INTO flaky_attempts VALUES (%s)', [n])\n"
            "        raise RuntimeError(f'attempt {n} fails')\n\n"
            "def nothing(ctx):\n    pass\n\n"
            "def always(ctx):\n    raise RuntimeError('never works')\n\n"
            "class Migration(dsl.Migration):\n"
            "    steps = [\n"
            "        dsl.RunSQL('CREATE TABLE flaky_attempts (n INTEGER)', backward='DROP TABLE flaky_attempts'),\n"
            "        dsl.RunPython(flaky, nothing, on_error='retry', retries=3, backoff=0.01, transaction=False),\n"
            "        dsl.RunPython(always, nothing, on_error='skip'),\n"
            "    ]\n"
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "succeeded", deployment.error
    steps = list(
        deployment.runs.get().step_runs.order_by("order").values_list("status", "attempts")
    )
    assert steps == [("succeeded", 1), ("succeeded", 3), ("skipped", 1)]
    assert Event.objects.filter(action="step_retry").count() == 2
    assert Event.objects.filter(action="step_skipped").count() == 1
    # Rolling it back takes back the steps that ran, not the one that was skipped.
    back = services.rollback("default", actor="t", backend="inline")
    assert back.status == "succeeded", back.error
    undone = list(back.runs.get().step_runs.order_by("order").values_list("step_order", "status"))
    assert undone == [(2, "succeeded"), (1, "succeeded")]
    assert "flaky_attempts" not in connection.introspection.table_names()


def test_python_step_batches_and_capture_roll_back_exactly(items: Path) -> None:
    before = checksum("items")
    write(
        items,
        "002_py.py",
        (
            "from migrator import dsl\n\n"
            "def double(ctx):\n"
            "    for keys in ctx.batches('items', size=500):\n"
            "        ctx.capture('items', keys, ['qty', 'name'])\n"
            "        marks = ', '.join(['%s'] * len(keys))\n"
            "        with ctx.connection.cursor() as c:\n"
            "            c.execute(f'UPDATE items SET qty = qty * 2, name = upper(name) WHERE id IN ({marks})', keys)\n\n"
            "class Migration(dsl.Migration):\n"
            "    steps = [dsl.RunPython(double, transaction=False)]\n"
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "succeeded", deployment.error
    assert deployment.runs.get().step_runs.get().batches_done == 6
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM items WHERE id = 3")
        assert cursor.fetchone()[0] == "ITEM-3"
    assert services.rollback("default", actor="t", backend="inline").status == "succeeded"
    assert checksum("items") == before


def test_validation_failure_undoes_the_step(items: Path) -> None:
    before = checksum("items")
    write(
        items,
        "002_v.py",
        (
            "from migrator import dsl\n\n"
            "class Migration(dsl.Migration):\n"
            "    steps = [\n"
            "        dsl.Transform(table='items', set={'qty': 'qty - 100'}, batch_size=1000),\n"
            "        dsl.Validate('SELECT id FROM items WHERE qty < 0', name='no negative stock'),\n"
            "    ]\n"
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "rolled_back"
    assert "validation step failed" in deployment.error
    assert checksum("items") == before


def test_events_tell_the_whole_story_in_order(items: Path, cli) -> None:
    deployment = Deployment.objects.latest("pk")
    result = cli("show", str(deployment.pk), "--json")
    actions = [e["action"] for e in result.json()["events"]]
    assert actions[0] == "deployment_created" and actions[-1] == "status"
    statuses = [h.status for h in deployment.history.order_by("history_id")]
    assert statuses == ["pending", "queued", "running", "succeeded"]
    run = Run.objects.get(deployment=deployment)
    assert [h.status for h in run.history.order_by("history_id")] == [
        "pending",
        "running",
        "succeeded",
    ]
    assert StepRun.objects.filter(run=run, status="succeeded").count() == 1


def test_each_schema_version_captured_is_audited_and_one_is_active(items: Path) -> None:
    """The schema recorded at the version reached: its history row says it was captured
    (without the schema itself), captured again when the version is reached again, and
    exactly one version of the target is active."""
    write(
        items,
        "002_more.sql",
        "-- migrate:up\nCREATE TABLE more_t (id INTEGER PRIMARY KEY);\n"
        "-- migrate:down\nDROP TABLE more_t;\n",
    )
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"
    second = SchemaVersion.objects.get(database="default", version="002")
    assert second.active and "more_t" in second.schema["tables"]
    assert [h.history_change_reason for h in second.history.all()] == ["captured"]
    assert services.rollback("default", actor="t", to="001", backend="inline").status == (
        "succeeded"
    )
    first = SchemaVersion.objects.get(database="default", version="001")
    assert first.active and "more_t" not in first.schema["tables"]
    assert first.history.order_by("history_id").last().history_change_reason == ("captured again")
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"
    again = SchemaVersion.objects.get(pk=second.pk)
    assert again.active and again.captured_at > second.captured_at
    assert again.deployment_id != second.deployment_id
    history = list(again.history.order_by("history_id"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert history[-1].deployment_id == again.deployment_id and history[-1].active
    assert SchemaVersion.objects.filter(database="default", active=True).count() == 1


def test_the_plan_is_kept_once_and_outlined_in_the_audit_trail(items: Path) -> None:
    """The deployment keeps its whole plan (SQL included); its creation event keeps the
    outline (versions, steps by name) and its history rows keep neither: a plan of a big
    deployment is hundreds of kilobytes, copied at every status change otherwise."""
    deployment = Deployment.objects.latest("pk")
    steps = deployment.plan["runs"][0]["steps"]
    assert "CREATE TABLE items" in steps[0]["sql"]
    created = Event.objects.get(deployment=deployment, action="deployment_created")
    outlined = created.data["plan"]["runs"][0]
    assert outlined["version"] == deployment.plan["runs"][0]["version"]
    assert outlined["steps"] == [
        {key: steps[0][key] for key in ("order", "name", "kind", "transaction")}
    ]
    history_fields = {f.name for f in deployment.history.model._meta.get_fields()}
    assert "status" in history_fields and not {"plan", "report"} & history_fields
    assert deployment.history.count() == 4


def test_a_refresh_reads_everything_but_the_plan_which_is_written_once(items: Path) -> None:
    """Refreshing a deployment (every service and the worker do) does not read its plan
    again: it never changes after creation, and a big one is half a megabyte of JSON. A
    plan in memory is kept; one not loaded loads when asked for."""
    deployment = Deployment.objects.latest("pk")
    plan = deployment.plan
    Deployment.objects.filter(pk=deployment.pk).update(error="seen", plan={"changed": True})
    with CaptureQueriesContext(connection) as queries:
        deployment.refresh_from_db()
    (query,) = queries.captured_queries
    assert '"error"' in query["sql"] and '"plan"' not in query["sql"]
    assert deployment.error == "seen" and deployment.plan == plan

    unloaded = Deployment.objects.defer("plan").get(pk=deployment.pk)
    unloaded.refresh_from_db()
    assert "plan" in unloaded.get_deferred_fields()
    assert unloaded.plan == {"changed": True}  # loaded on access
    deployment.refresh_from_db(fields=["plan"])  # asked for by name: read
    assert deployment.plan == {"changed": True}


def test_breaking_changes_of_a_version_are_against_the_version_before_it(
    catalog_dir: Path,
) -> None:
    """Version 10's schema is compared with version 2's (natural order), not with 1's
    (which sorts before 10 as text and never had the column)."""
    # golang-migrate's files: versions are numbers, 10 after 2.
    for name, sql in (
        ("1_create", "CREATE TABLE bv (id INTEGER PRIMARY KEY)"),
        ("2_note", "ALTER TABLE bv ADD COLUMN note TEXT"),
        ("10_drop", "ALTER TABLE bv DROP COLUMN note"),
    ):
        write(catalog_dir, f"{name}.up.sql", f"{sql};\n")
        write(catalog_dir, f"{name}.down.sql", "SELECT 1;\n")
    try:
        deployment = services.apply("default", actor="t", backend="inline")
        assert deployment.status == "succeeded", deployment.error
        versions = dict(SchemaVersion.objects.values_list("version", "breaking_changes"))
        assert set(versions) == {"1", "2", "10"}
        assert versions["1"] == [] and versions["2"] == []
        dropped = [(c["table"], c["change"]) for c in versions["10"]]
        assert dropped and all(table == "bv" for table, _ in dropped), versions["10"]
        assert any("note" in c["detail"] for c in versions["10"]), versions["10"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bv")
