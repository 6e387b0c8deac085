"""Kill -9 of a real worker process at every commit point, then recover and resume.

The worker is ``manage.py migrator apply`` (or ``rollback``) in a subprocess; the
environment variable ``MIGRATOR_FAULTS`` makes it SIGKILL itself at one named moment
(migrator.engine.faults). Whatever the moment, ``recover`` must find the deployment,
``resume`` must finish it, and every table must equal an uninterrupted run's: nothing done
twice, nothing skipped, on SQLite and PostgreSQL, with migrator's own tables in the target
database or in another one (where a target-side ledger tells what committed).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from migrator import services
from migrator.models import Deployment, Migration, TargetLock
from migrator.states import Status

from ..conftest import write
from .helpers import checksum, items_migration, manage, worker_env

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.workers,
]

TABLES = ["items", "tags", "audit"]

TRANSFORM = """from migrator import dsl

class Migration(dsl.Migration):
    steps = [
        dsl.Transform(table="items", set={"qty": "qty * 10 + 1", "note": "'changed'"},
                      batch_size=300),
        dsl.Validate("SELECT id FROM items WHERE note IS NULL"),
    ]
"""

TWO_LOOPS = """from migrator import dsl

def mark(ctx):
    for keys in ctx.batches("items", size=700):
        ctx.capture("items", keys, ["name"])
        marks = ", ".join(["%s"] * len(keys))
        with ctx.connection.cursor() as cursor:
            cursor.execute(f"UPDATE items SET name = name || '+' WHERE id IN ({marks})", keys)
    for keys in ctx.batches("tags", size=700):
        ctx.capture("tags", keys, ["label"])
        marks = ", ".join(["%s"] * len(keys))
        with ctx.connection.cursor() as cursor:
            cursor.execute(f"UPDATE tags SET label = upper(label) WHERE id IN ({marks})", keys)

class Migration(dsl.Migration):
    steps = [
        dsl.RunSQL("CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(60) NOT NULL);"
                   "INSERT INTO tags (id, label) SELECT id, name FROM items",
                   backward="DROP TABLE tags"),
        dsl.RunPython(mark, transaction=False),
    ]
"""

INDEX = """-- migrate:up transaction:false
CREATE INDEX items_qty_idx ON items (qty);
CREATE INDEX items_note_idx ON items (note);
-- migrate:down transaction:false
DROP INDEX items_note_idx;
DROP INDEX items_qty_idx;
"""

AUDIT = """-- === UP MIGRATION ===
CREATE TABLE audit (id INTEGER PRIMARY KEY, msg VARCHAR(40) NOT NULL);
INSERT INTO audit (id, msg) SELECT id, 'seen ' || name FROM items WHERE id <= 50;
-- === DOWN MIGRATION ===
DROP TABLE audit;
"""

BROKEN = """from migrator import dsl

class Migration(dsl.Migration):
    steps = [
        dsl.RunSQL("CREATE TABLE scratch (id INTEGER PRIMARY KEY)", backward="DROP TABLE scratch"),
        dsl.RunSQL("UPDATE items SET qty = 0; SELECT * FROM no_such_table", backward="SELECT 1"),
    ]
"""


def _state(alias: str) -> dict[str, Any]:
    """Every table's content and the indexes of items: what must come out the same."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        names = set(connection.introspection.table_names(cursor))
        indexes = sorted(
            name
            for name, info in connection.introspection.get_constraints(cursor, "items").items()
            if info.get("index") and not info.get("primary_key")
        )
    return {
        "tables": {t: checksum(t, alias) for t in TABLES if t in names},
        "indexes": indexes,
    }


@pytest.fixture(params=["default", "analytics"])
def target(request: Any, settings: Any) -> str:
    """The target database: migrator's own ("default"), or another one ("analytics")."""
    settings.MIGRATOR = {**settings.MIGRATOR, "DEFAULT_DATABASE": request.param}
    return str(request.param)


@pytest.fixture
def catalog(catalog_dir: Path, target: str) -> dict[str, Any]:
    """Items applied; then what the rest looks like applied uninterrupted (then rolled
    back, which must restore the base exactly)."""
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply(target, actor="t", to="001", backend="inline").status == "succeeded"
    base = _state(target)
    write(catalog_dir, "002_bump.py", TRANSFORM)
    write(catalog_dir, "003_two_loops.py", TWO_LOOPS)
    write(catalog_dir, "004_index.sql", INDEX)
    write(catalog_dir, "005_audit.sql", AUDIT)
    done = services.apply(target, actor="t", backend="inline")
    assert done.status == Status.SUCCEEDED, done.error
    applied = _state(target)
    assert services.rollback(target, actor="t", to="001", backend="inline").status == "succeeded"
    assert _state(target) == base
    return {"folder": catalog_dir, "base": base, "applied": applied, "target": target}


def _crash(catalog: dict[str, Any], fault: str, *args: str) -> Deployment:
    env = worker_env(
        catalog["folder"], MIGRATOR_FAULTS=fault, MIGRATOR_DEFAULT_DATABASE=catalog["target"]
    )
    process = manage("migrator", *args, "--yes", env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, f"{fault} was never reached:\n{out}\n{err}"
    return Deployment.objects.latest("pk")


def _recover_and_resume(deployment: Deployment) -> Deployment:
    assert services.recover(actor="t") == [deployment.pk]
    deployment.refresh_from_db()
    assert deployment.status == Status.INTERRUPTED
    assert not TargetLock.objects.exists()
    resumed = services.resume(deployment.pk, actor="t", backend="inline")
    return services.wait(resumed.pk)


FORWARD_FAULTS = [
    "before_claim",  # queued, then the worker died before starting it
    "claimed",
    "run_started:2",
    "batch_committed:4",  # in the middle of the transform
    "batch_committed:12",  # in the middle of the python step's second loop
    "step_committed:1",  # the transform's end committed, its record not yet
    "step_committed:3",  # a transactional SQL step
    "statement_committed:1",  # between the two CREATE INDEX outside a transaction
    "between_runs:2",
    "before_success",
]


@pytest.mark.parametrize("fault", FORWARD_FAULTS)
def test_forward_deployment_killed_anywhere_finishes_exactly(
    catalog: dict[str, Any], fault: str
) -> None:
    deployment = _crash(catalog, fault, "apply")
    assert deployment.status not in (Status.SUCCEEDED, Status.FAILED)
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.SUCCEEDED, finished.error
    assert _state(catalog["target"]) == catalog["applied"]
    for run in finished.runs.all():
        assert run.status == Status.SUCCEEDED
        assert set(run.step_runs.values_list("status", flat=True)) == {Status.SUCCEEDED}
    # Exactly once: one successful forward run per migration, whatever was retried.
    assert Migration.objects.filter(database=catalog["target"], applied=True).count() == 5


ROLLBACK_FAULTS = [
    "restore_batch_committed:2",
    "restore_dropped:1",  # captured values restored and dropped, its record not yet
    "step_committed:2",
    "between_runs:1",
]


@pytest.mark.parametrize("fault", ROLLBACK_FAULTS)
def test_rollback_killed_anywhere_restores_the_base_exactly(
    catalog: dict[str, Any], fault: str
) -> None:
    target = catalog["target"]
    assert services.apply(target, actor="t", backend="inline").status == Status.SUCCEEDED
    deployment = _crash(catalog, fault, "rollback", "--to", "001")
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.SUCCEEDED, finished.error
    assert _state(target) == catalog["base"]
    assert list(
        Migration.objects.filter(database=target, applied=True).values_list("version", flat=True)
    ) == ["001"]


AUTO_ROLLBACK_FAULTS = ["rollback_started:1", "restore_dropped:2", "undo_step_done:1"]


@pytest.mark.parametrize("fault", AUTO_ROLLBACK_FAULTS)
def test_automatic_rollback_killed_anywhere_ends_where_it_started(
    catalog: dict[str, Any], fault: str
) -> None:
    write(catalog["folder"], "006_broken.py", BROKEN)
    deployment = _crash(catalog, fault, "apply")
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.ROLLED_BACK, finished.error
    assert "no_such_table" in finished.error
    assert _state(catalog["target"]) == catalog["base"]
    with connections[catalog["target"]].cursor() as cursor:
        assert "scratch" not in connections[catalog["target"]].introspection.table_names(cursor)


def test_dry_run_killed_midway_is_recovered_and_changes_nothing(catalog: dict[str, Any]) -> None:
    deployment = _crash(catalog, "batch_committed:3", "apply", "--dry-run")
    assert deployment.dry_run
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.SUCCEEDED and finished.report["runs"]
    assert _state(catalog["target"]) == catalog["base"]
    assert (
        not Migration.objects.filter(database=catalog["target"], applied=True)
        .exclude(version="001")
        .exists()
    )


def _undo_setting() -> None:
    """The schema outlives the test's own cleanup (which empties tables only), and the
    pragma this process's connection (the resume ran inline)."""
    with connections["default"].cursor() as cursor:
        if connections["default"].vendor == "postgresql":
            cursor.execute("DROP SCHEMA IF EXISTS resumed CASCADE")
        else:
            cursor.execute("PRAGMA case_sensitive_like = OFF")


def test_a_script_resumed_on_a_new_connection_sets_its_session_again(
    catalog_dir: Path, request: Any
) -> None:
    """Run statement by statement, a script's first statement sets something for the next
    ones; killed after the second committed (the first one's checkpoint finished, so it is
    not run again as in doubt), the resumed step, on a new connection, sets it again."""
    pg = connections["default"].vendor == "postgresql"
    setting = "SET search_path TO resumed" if pg else "PRAGMA case_sensitive_like = ON"
    if pg:
        write(catalog_dir, "001_schema.sql", "-- === UP MIGRATION ===\nCREATE SCHEMA resumed;\n")
    # Under the setting, 'a' LIKE 'A' is false (SQLite) and the table lands in app (PG).
    write(
        catalog_dir,
        "002_flags.sql",
        f"-- Transaction: no\n-- === UP MIGRATION ===\n{setting};\n"
        "CREATE TABLE flags (x INTEGER);\nINSERT INTO flags SELECT 1;\n"
        "INSERT INTO flags SELECT 2 WHERE 'a' LIKE 'A';\n",
    )
    request.addfinalizer(_undo_setting)
    deployment = _crash(
        {"folder": catalog_dir, "target": "default"}, "statement_committed:2", "apply"
    )
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.SUCCEEDED, finished.error
    table = "resumed.flags" if pg else "flags"
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT x FROM {table} ORDER BY x")
        assert [row[0] for row in cursor.fetchall()] == [1]


@pytest.mark.parametrize(
    "fault",
    [
        "statement_committed:2",  # inside the script's first transaction
        "statement_committed:4",  # its COMMIT done, that statement's checkpoint not yet
    ],
)
def test_a_script_of_its_own_transactions_killed_inside_or_after_one(
    catalog_dir: Path, fault: str, request: Any
) -> None:
    """A script of its own transactions runs its statements' checkpoints in them: killed
    inside one, the resumed step runs it again from its BEGIN (the server rolled it back
    with those checkpoints); killed right after its COMMIT, it goes on after it (a COMMIT
    in doubt that finds no transaction had done its work)."""

    def drop() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS pairs")
            cursor.execute("DROP TABLE IF EXISTS singles")

    request.addfinalizer(drop)
    write(
        catalog_dir,
        "001_two.sql",
        "-- === UP MIGRATION ===\nBEGIN;\nCREATE TABLE pairs (x INTEGER);\n"
        "INSERT INTO pairs VALUES (1), (2);\nCOMMIT;\nBEGIN;\n"
        "CREATE TABLE singles (x INTEGER);\nINSERT INTO singles VALUES (1);\nCOMMIT;\n",
    )
    deployment = _crash({"folder": catalog_dir, "target": "default"}, fault, "apply")
    finished = _recover_and_resume(deployment)
    assert finished.status == Status.SUCCEEDED, finished.error
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT x FROM pairs ORDER BY x")
        assert [row[0] for row in cursor.fetchall()] == [1, 2]
        cursor.execute("SELECT x FROM singles")
        assert [row[0] for row in cursor.fetchall()] == [1]
