"""What the engine promises when things go wrong: nothing applied twice, every deployment
ending in a true state, and rollbacks that do what the plan announced."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection, connections

from migrator import services
from migrator.engine import execute, faults
from migrator.engine.target import Target
from migrator.exceptions import BadInput, OperationFailed
from migrator.models import Deployment, Migration, TargetLock
from migrator.states import Status

from ..conftest import marker_sql, write
from .helpers import checksum, hold_in_a_thread, items_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    return catalog_dir


def _scalar(sql: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {
            name
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if info.get("index") and not info.get("primary_key")
        }


ADD_SEVEN = (
    "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
    "    steps = [dsl.Transform(table='items', set={'qty': 'qty + 7'}, batch_size=500)]\n"
)


def test_a_deployment_that_lost_the_lock_race_never_applies_twice(items: Path) -> None:
    base_sum = _scalar("SELECT SUM(qty) FROM items")
    write(items, "002_add_seven.py", ADD_SEVEN)
    loser = services.create_deployment(services.plan("default"), actor="bob")
    Deployment.objects.filter(pk=loser.pk).update(status=Status.QUEUED)
    holder = Deployment.objects.create(direction="forward", requested_by="alice")
    thread, release = hold_in_a_thread(holder)
    try:
        lost = execute(loser.pk)
    finally:
        release.set()
        thread.join()
    Deployment.objects.filter(pk=holder.pk).update(status=Status.SUCCEEDED)
    assert lost.status == Status.FAILED and "not started" in lost.error
    assert set(lost.runs.values_list("status", flat=True)) == {Status.PENDING}

    winner = services.apply("default", actor="carol", backend="inline")
    assert winner.status == Status.SUCCEEDED
    assert _scalar("SELECT SUM(qty) FROM items") == base_sum + 7 * 3000

    resumed = services.resume(loser.pk, actor="bob", backend="inline")
    resumed = services.wait(resumed.pk)
    assert resumed.status == Status.FAILED
    assert "already applied by deployment" in resumed.error and "stale" in resumed.error
    assert _scalar("SELECT SUM(qty) FROM items") == base_sum + 7 * 3000  # not twice
    assert services.rollback("default", actor="t", backend="inline").status == Status.SUCCEEDED
    assert _scalar("SELECT SUM(qty) FROM items") == base_sum


def test_a_non_transactional_step_failing_partway_is_undone_by_its_backward_sql(
    items: Path,
) -> None:
    before = checksum("items")
    write(
        items,
        "002_indexes.sql",
        "-- migrate:up transaction:false\n"
        "CREATE INDEX items_qty_idx ON items (qty);\n"
        "CREATE INDEX items_bad_idx ON no_such_table (x);\n"
        "-- migrate:down transaction:false\n"
        "DROP INDEX items_bad_idx;\n"
        "DROP INDEX items_qty_idx;\n",
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.ROLLED_BACK, deployment.error
    assert "items_qty_idx" not in _indexes("items")
    assert checksum("items") == before
    step = deployment.runs.get(direction="forward").step_runs.get()
    assert step.status == Status.ROLLED_BACK


ONE_WAY_INDEX = "-- migrate:up transaction:false\nCREATE INDEX items_qty_idx ON items (qty);\n"
FAILS = marker_sql("UPDATE items SET qty = 0;\nSELECT * FROM no_such_table;", "SELECT 1;")


def test_partial_rollback_must_be_accepted_and_ends_in_a_state_that_says_what_stays(
    items: Path, cli
) -> None:
    write(items, "002_index.sql", ONE_WAY_INDEX)
    write(items, "003_fails.sql", FAILS)
    plan = cli("plan", "--json").json()
    assert plan["rollback"] == {
        "guarantee": "partial",
        "atomic": False,
        "uncovered": ["002"],
        "backups": [],
    }
    for unseen in (("--json",), ("-v0", "--yes")):  # the plan was not shown: not accepted
        refused = cli("apply", *unseen)
        assert refused.code == 1 and "--allow-partial-rollback" in refused.err, unseen
    assert not Deployment.objects.filter(direction="forward").exclude(goal_version="001").exists()

    result = cli("apply", "--yes")  # printed the plan, which says the rollback is partial
    assert "rollback if it fails: partial (may stop at 002: no way back)" in result.out
    assert result.code == 1
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Status.PARTIALLY_ROLLED_BACK
    assert deployment.report["still_applied"] == ["002"]
    assert "items_qty_idx" in _indexes("items")
    status = cli("status", "--json").json()["databases"][0]
    assert status["last_deployment"]["status"] == "partially_rolled_back"
    assert status["last_deployment"]["still_applied"] == ["002"]
    assert "still applied: 002" in cli("status").out


def test_what_cannot_be_undone_step_by_step_runs_as_one_transaction(items: Path, cli) -> None:
    before = checksum("items")
    write(items, "002_table.sql", "-- === UP MIGRATION ===\nCREATE TABLE extra (id INTEGER);\n")
    write(items, "003_fails.sql", FAILS)
    plan = cli("plan", "--json").json()
    assert plan["rollback"]["guarantee"] == "atomic" and plan["rollback"]["atomic"] is True
    result = cli("apply", "--yes")
    assert result.code == 1
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Status.ROLLED_BACK
    assert "extra" not in _tables() and checksum("items") == before
    assert not Migration.objects.filter(version__in=["002", "003"], applied=True).exists()
    assert any("atomic" in m for m in deployment.events.values_list("message", flat=True))


def test_atomic_is_refused_for_steps_that_cannot_run_in_a_transaction(items: Path, cli) -> None:
    write(items, "002_index.sql", ONE_WAY_INDEX)
    result = cli("apply", "--yes", "--atomic")
    assert result.code == 2 and "002 step 1" in result.err
    with pytest.raises(BadInput):
        services.plan("default", atomic=True)


def test_an_explicit_atomic_deployment_succeeds_in_one_transaction(items: Path) -> None:
    write(items, "002_a.sql", marker_sql("CREATE TABLE a1 (id INTEGER);", "DROP TABLE a1;"))
    write(items, "003_b.sql", marker_sql("CREATE TABLE b1 (id INTEGER);", "DROP TABLE b1;"))
    deployment = services.apply("default", actor="t", backend="inline", atomic=True)
    assert deployment.status == Status.SUCCEEDED and deployment.options["atomic"] is True
    assert {"a1", "b1"} <= _tables()


BACKWARD_FAILS = """from migrator import dsl

def forward(ctx):
    with ctx.connection.cursor() as cursor:
        cursor.execute("UPDATE items SET note = 'fw'")

def backward(ctx):
    raise RuntimeError("the backward callable is broken")

class Migration(dsl.Migration):
    steps = [dsl.RunPython(forward, backward)]
"""


def test_an_undo_that_fails_leaves_a_partially_rolled_back_deployment(items: Path) -> None:
    write(items, "002_py.py", BACKWARD_FAILS)
    write(items, "003_fails.sql", FAILS)
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.PARTIALLY_ROLLED_BACK
    assert "the backward callable is broken" in deployment.error
    assert deployment.report["still_applied"] == ["002"]
    backward = deployment.runs.get(direction="backward")
    assert backward.status == Status.FAILED


EXPLICIT_BACKWARD = """from migrator import dsl

def forward(ctx):
    with ctx.connection.cursor() as cursor:
        cursor.execute("UPDATE items SET note = 'n' || id")

def backward(ctx):
    with ctx.connection.cursor() as cursor:
        cursor.execute("UPDATE items SET note = NULL")
    ctx.log("notes cleared")

class Migration(dsl.Migration):
    steps = [dsl.RunPython(forward, backward)]
"""


def test_an_explicit_backward_callable_takes_a_step_back(items: Path) -> None:
    before = checksum("items")
    write(items, "002_py.py", EXPLICIT_BACKWARD)
    assert services.apply("default", actor="t", backend="inline").status == Status.SUCCEEDED
    assert _scalar("SELECT note FROM items WHERE id = 5") == "n5"
    rollback = services.rollback("default", actor="t", backend="inline")
    assert rollback.status == Status.SUCCEEDED
    assert checksum("items") == before
    assert rollback.events.filter(action="step_log", message__contains="notes cleared").exists()


def test_cancel_whose_undo_fails_ends_failed_and_says_why(items: Path) -> None:
    write(
        items,
        "002_bump.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='items', set={'qty': 'qty * 2'}, batch_size=100,"
        " pause_between_batches=0.02)]\n",
    )
    deployment = services.apply("default", actor="t", backend="thread")
    deployment = _wait_batches(deployment, 5)
    services.pause(deployment.pk, actor="t")
    deployment = services.wait(deployment.pk)
    assert deployment.status == Status.PAUSED
    run = deployment.runs.get()
    capture = Target.capture_table(run.pk, 1, "items")
    Target("default").dialect.drop_table(capture)  # someone removed the captured values
    services.cancel(deployment.pk, actor="t", backend="inline")
    deployment = services.wait(deployment.pk)
    assert deployment.status == Status.FAILED
    assert "cancel could not undo" in "".join(deployment.events.values_list("message", flat=True))
    assert "are gone" in deployment.error


def _wait_batches(deployment: Deployment, batches: int) -> Deployment:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        deployment.refresh_from_db()
        if (deployment.progress or {}).get("batches", 0) >= batches:
            return deployment
        time.sleep(0.05)
    raise AssertionError(f"no progress: {deployment.status} {deployment.progress}")


CRASHES = """from migrator import dsl

def forward(ctx):
    return 1 / 0

class Migration(dsl.Migration):
    steps = [dsl.RunPython(forward)]
"""


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_programming_error_is_recorded_with_its_traceback(items: Path, dry_run: bool) -> None:
    write(items, "002_crash.py", CRASHES)
    deployment = services.apply("default", actor="t", backend="inline", dry_run=dry_run)
    expected = Status.FAILED if dry_run else Status.ROLLED_BACK
    assert deployment.status == expected
    assert "ZeroDivisionError" in deployment.error
    assert "Traceback" in deployment.failure["traceback"]
    assert deployment.failure["version"] == "002" and deployment.failure["step"] == 1
    step = deployment.runs.get(direction="forward").step_runs.get()
    assert step.status in (Status.FAILED, Status.ROLLED_BACK)


BROKEN_KIND_STEP = """from migrator import dsl

class Broken(dsl.Step):
    kind = "broken"

    def declaration(self, vendor):
        return {"forward": "SELECT 1", "backward": "SELECT 1"}

class Migration(dsl.Migration):
    steps = [Broken()]
"""


def test_a_bug_outside_any_step_still_ends_the_deployment_with_its_traceback(
    items: Path,
) -> None:
    write(items, "002_a.sql", marker_sql("CREATE TABLE a1 (id INTEGER);", "DROP TABLE a1;"))
    write(items, "003_b.sql", marker_sql("CREATE TABLE b1 (id INTEGER);", "DROP TABLE b1;"))
    with faults.armed("between_runs"):  # an error in the engine itself, between two runs
        deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.FAILED
    assert "InjectedFault: fault injected at between_runs" in deployment.error
    assert "Traceback" in deployment.failure["traceback"]
    statuses = list(deployment.runs.order_by("order").values_list("status", flat=True))
    assert statuses == [Status.SUCCEEDED, Status.PENDING]
    assert not TargetLock.objects.exists()
    # A failed deployment can be resumed once the cause is gone.
    resumed = services.wait(services.resume(deployment.pk, actor="t", backend="inline").pk)
    assert resumed.status == Status.SUCCEEDED
    assert {"a1", "b1"} <= _tables()


def test_a_step_of_an_unregistered_kind_is_a_catalog_error(items: Path, cli) -> None:
    write(items, "002_broken.py", BROKEN_KIND_STEP)
    result = cli("status")
    assert result.code == 2 and "002_broken.py" in result.err and "'broken'" in result.err


def test_several_batch_loops_in_one_python_step_all_run(items: Path) -> None:
    write(
        items,
        "002_loops.py",
        "from migrator import dsl\n\n"
        "def both(ctx):\n"
        "    for keys in ctx.batches('items', size=1000):\n"
        "        ctx.capture('items', keys, ['qty'])\n"
        "        marks = ', '.join(['%s'] * len(keys))\n"
        "        with ctx.connection.cursor() as c:\n"
        "            c.execute(f'UPDATE items SET qty = -1 WHERE id IN ({marks})', keys)\n"
        "    for keys in ctx.batches('items', size=500):\n"
        "        ctx.capture('items', keys, ['note'])\n"
        "        marks = ', '.join(['%s'] * len(keys))\n"
        "        with ctx.connection.cursor() as c:\n"
        "            c.execute(f\"UPDATE items SET note = 'second' WHERE id IN ({marks})\", keys)\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [dsl.RunPython(both, transaction=False)]\n",
    )
    before = checksum("items")
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.SUCCEEDED
    assert _scalar("SELECT COUNT(*) FROM items WHERE qty = -1 AND note = 'second'") == 3000
    assert deployment.runs.get().step_runs.get().batches_done == 3 + 6
    assert services.rollback("default", actor="t", backend="inline").status == Status.SUCCEEDED
    assert checksum("items") == before


def test_an_unknown_deployment_or_one_in_the_wrong_state_is_refused(items: Path) -> None:
    with pytest.raises(BadInput):
        services.resume(999999, actor="t")
    done = services.apply("default", actor="t", backend="inline")
    with pytest.raises(OperationFailed):
        services.cancel(done.pk, actor="t")


COMMIT_LOG = """-- === UP MIGRATION ===
CREATE TABLE commit_log (step VARCHAR(20), synchronous VARCHAR(20));
CREATE TABLE pings (step VARCHAR(20));
CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commit_log VALUES (NEW.step, current_setting('synchronous_commit'));
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER pings_at_commit AFTER INSERT ON pings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_commit();
-- === DOWN MIGRATION ===
DROP TABLE pings;
DROP TABLE commit_log;
DROP FUNCTION log_commit();
"""

PING_FROM_PYTHON = """from migrator import dsl

def ping(ctx):
    with ctx.connection.cursor() as cursor:
        cursor.execute("INSERT INTO pings VALUES ('python')")

def unping(ctx):
    with ctx.connection.cursor() as cursor:
        cursor.execute("DELETE FROM pings WHERE step = 'python'")

class Migration(dsl.Migration):
    steps = [dsl.RunPython(ping, unping)]
"""


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql",
    reason="synchronous_commit is PostgreSQL's (SQLite's commits are as its journal says)",
)
@pytest.mark.parametrize("target", ["default", "analytics"])
def test_which_step_commits_wait_for_the_disk(catalog_dir: Path, settings, target: str) -> None:
    """A SQL step whose record commits in its own transaction (migrator's tables in the
    target database) commits without waiting for the disk; a Python step (which may act
    outside the database), a step whose record is written elsewhere, and every step with
    DURABLE_STEPS wait. Seen from inside the commit: a deferred trigger logs the setting
    the transaction commits with."""
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "database": target}],
        "DEFAULT_DATABASE": target,
    }
    write(catalog_dir, "001_log.sql", COMMIT_LOG)
    write(
        catalog_dir,
        "002_sql.sql",
        marker_sql("INSERT INTO pings VALUES ('sql');", "DELETE FROM pings;"),
    )
    write(catalog_dir, "003_python.py", PING_FROM_PYTHON)

    def logged() -> list[tuple[str, str]]:
        with connections[target].cursor() as cursor:
            cursor.execute("SELECT step, synchronous FROM commit_log ORDER BY step")
            return list(cursor.fetchall())

    try:
        assert services.apply(target, actor="t", backend="inline").status == "succeeded"
        shared = "off" if target == "default" else "on"
        assert logged() == [("python", "on"), ("sql", shared)]
        assert services.rollback(target, actor="t", to="001", backend="inline").status == (
            "succeeded"
        )
        settings.MIGRATOR = {**settings.MIGRATOR, "DURABLE_STEPS": True}
        with connections[target].cursor() as cursor:
            cursor.execute("DELETE FROM commit_log")
        assert services.apply(target, actor="t", backend="inline").status == "succeeded"
        assert logged() == [("python", "on"), ("sql", "on")]
    finally:
        services.rollback(target, actor="t", count=3, backend="inline")


def test_a_step_refused_at_its_commit_fails_with_nothing_applied(catalog_dir: Path) -> None:
    """A deferred constraint is checked at the commit that also carries the step's record:
    the step fails naming the violation, its work and record are both gone, and the
    failure is recorded."""
    write(
        catalog_dir, "001_keep.sql", marker_sql("CREATE TABLE keep (id INT);", "DROP TABLE keep;")
    )
    write(
        catalog_dir,
        "002_deferred.sql",
        marker_sql(
            "CREATE TABLE parent (id INT PRIMARY KEY);\n"
            "CREATE TABLE child (id INT, parent_id INT REFERENCES parent (id) "
            "DEFERRABLE INITIALLY DEFERRED);\n"
            "INSERT INTO child VALUES (1, 42);",
            "DROP TABLE child;\nDROP TABLE parent;",
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "002 step 1" in deployment.error and "foreign key" in deployment.error.lower()
    assert {"parent", "child"}.isdisjoint(_tables())
    assert Migration.objects.get(version="001").applied
    assert not Migration.objects.get(version="002").applied
    run = deployment.runs.get(migration__version="002")
    assert run.status == Status.FAILED and run.step_runs.get().status == Status.FAILED
