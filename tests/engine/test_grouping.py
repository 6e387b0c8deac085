"""Quick SQL migrations committed together on SQLite (``engine/grouping.py``): each still
commits with its record, never without; failures, crashes and a transaction the database
ends behave as if each had committed alone. On PostgreSQL groups are off: the same tests
check that each migration commits alone there."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from migrator import services
from migrator.dialects import dialect_for
from migrator.engine import faults
from migrator.models import Deployment, Event, Migration
from migrator.states import STOPPED, Status

from ..conftest import write
from .helpers import manage, wait_for, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


def _groups() -> bool:
    """Whether the default database commits quick migrations together."""
    return connection.vendor == "sqlite"


def _sql(folder: Path, version: str, up: str, down: str) -> None:
    write(
        folder,
        f"{version}_m.sql",
        f"-- === UP MIGRATION ===\n{up}\n-- === DOWN MIGRATION ===\n{down}\n",
    )


def _tables(count: int, folder: Path) -> None:
    for i in range(1, count + 1):
        _sql(
            folder, f"{i:03d}", f"CREATE TABLE g{i} (id INTEGER PRIMARY KEY);", f"DROP TABLE g{i};"
        )


def _existing() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _applied() -> set[str]:
    return set(Migration.objects.filter(applied=True).values_list("version", flat=True))


@pytest.fixture
def one_long_group(settings: Any, catalog_dir: Path) -> Path:
    settings.MIGRATOR = {**settings.MIGRATOR, "GROUP_COMMIT_SECONDS": 60}
    return catalog_dir


def test_a_failing_migration_leaves_the_ones_before_it_in_its_group_applied(
    one_long_group: Path,
) -> None:
    _tables(3, one_long_group)
    _sql(
        one_long_group,
        "004",
        "CREATE TABLE g4 (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        "DROP TABLE g4;",
    )
    _sql(one_long_group, "005", "CREATE TABLE g5 (id INTEGER);", "DROP TABLE g5;")
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "004 step 1" in deployment.error and "no_such_table" in deployment.error
    assert _applied() == {"001", "002", "003"}
    existing = _existing()
    assert {"g1", "g2", "g3"} <= existing and not {"g4", "g5"} & existing
    # Committed as it was before the failure was handled, not rolled back and run again.
    assert not Event.objects.filter(action="group_rolled_back").exists()
    statuses = dict(deployment.runs.values_list("migration__version", "status"))
    assert statuses == {
        "001": Status.SUCCEEDED,
        "002": Status.SUCCEEDED,
        "003": Status.SUCCEEDED,
        "004": Status.FAILED,
        "005": Status.PENDING,
    }


def test_a_migration_that_cannot_join_sees_the_group_before_it_committed(
    one_long_group: Path,
) -> None:
    """A Python step may act outside the database: the quick migrations before it are
    committed, visible from any other connection, when it starts."""
    _tables(2, one_long_group)
    write(
        one_long_group,
        "003_look.py",
        "from django.db import connections\n"
        "from migrator import dsl\n\n"
        "def look(ctx):\n"
        "    other = connections.create_connection('default')\n"
        "    try:\n"
        "        with other.cursor() as cursor:\n"
        '            cursor.execute("SELECT version FROM migrator_migration WHERE applied "\n'
        '                           "ORDER BY version")\n'
        "            seen = [row[0] for row in cursor.fetchall()]\n"
        "            cursor.execute('SELECT COUNT(*) FROM g2')\n"
        "    finally:\n"
        "        other.close()\n"
        "    assert seen == ['001', '002'], seen\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [dsl.RunPython(look)]\n",
    )
    _sql(one_long_group, "004", "CREATE TABLE g4 (id INTEGER);", "DROP TABLE g4;")
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.SUCCEEDED, deployment.error
    assert _applied() == {"001", "002", "003", "004"}


DEFERRED = """CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (id INTEGER PRIMARY KEY,
                    parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);"""


def test_a_deferred_foreign_key_broken_in_a_group_fails_that_migration_alone(
    one_long_group: Path,
) -> None:
    """SQLite checks a deferred foreign key only at the commit: the group cannot commit,
    is rolled back, and its migrations run again one by one."""
    _sql(one_long_group, "001", DEFERRED, "DROP TABLE child;\nDROP TABLE parent;")
    _sql(one_long_group, "002", "INSERT INTO parent VALUES (1);", "DELETE FROM parent;")
    _sql(one_long_group, "003", "INSERT INTO child VALUES (1, 42);", "DELETE FROM child;")
    _sql(one_long_group, "004", "CREATE TABLE g4 (id INTEGER);", "DROP TABLE g4;")
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "003 step 1" in deployment.error and "foreign key" in deployment.error.lower()
    assert _applied() == {"001", "002"}
    assert "g4" not in _existing()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM child")
        assert cursor.fetchone()[0] == 0
    replays = Event.objects.filter(deployment=deployment, action="group_rolled_back")
    assert replays.exists() == _groups()
    if _groups():
        assert "running them again one by one" in replays.get().message


def test_a_transaction_the_database_ended_is_run_again_one_by_one(
    one_long_group: Path,
) -> None:
    """SQLite rolls a transaction back itself on some errors (an interrupted write, a full
    disk): the group's migrations are not applied then, nor recorded; they run again."""
    _tables(5, one_long_group)
    with faults.armed("between_runs", 3, action="abort"):
        deployment = services.apply("default", actor="t", backend="inline")
    if _groups():
        assert deployment.status == Status.SUCCEEDED, deployment.error
        event = Event.objects.get(deployment=deployment, action="group_rolled_back")
        assert "InjectedFault" in event.message and event.level == "warning"
        assert [r.attempts for r in deployment.runs.get(order=1).step_runs.all()] == [1]
    else:  # each committed alone: the fault is an error between two runs
        assert deployment.status == Status.FAILED
        assert "InjectedFault" in deployment.error
        assert _applied() == {"001", "002", "003"}
        deployment = services.wait(services.resume(deployment.pk, actor="t", backend="inline").pk)
        assert deployment.status == Status.SUCCEEDED
    assert _applied() == {f"{i:03d}" for i in range(1, 6)}
    assert {f"g{i}" for i in range(1, 6)} <= _existing()


@pytest.mark.workers
@pytest.mark.parametrize("window", ["60", "0"])
def test_a_worker_killed_inside_a_group_loses_its_migrations_with_their_records(
    catalog_dir: Path, window: str
) -> None:
    """kill -9 between the third and fourth migration: in one group, the three are gone
    with their records; committed alone (``GROUP_COMMIT_SECONDS = 0``, or PostgreSQL),
    they stay. Either way what is recorded applied is exactly what exists, and resuming
    finishes the rest."""
    _tables(5, catalog_dir)
    env = worker_env(
        catalog_dir, MIGRATOR_FAULTS="between_runs:3", MIGRATOR_GROUP_COMMIT_SECONDS=window
    )
    process = manage("migrator", "apply", "--yes", env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, f"never killed:\n{out}\n{err}"
    connections["default"].close()  # see what the worker left, not a cached snapshot
    applied = _applied()
    lost_with_the_group = _groups() and window != "0"
    assert applied == (set() if lost_with_the_group else {"001", "002", "003"})
    existing = _existing()
    for i in range(1, 6):
        assert (f"g{i}" in existing) == (f"{i:03d}" in applied)
    deployment = Deployment.objects.latest("pk")
    assert services.recover(actor="t") == [deployment.pk]
    resumed = services.wait(services.resume(deployment.pk, actor="t", backend="inline").pk)
    assert resumed.status == Status.SUCCEEDED, resumed.error
    assert _applied() == {f"{i:03d}" for i in range(1, 6)}


def test_a_pause_asked_during_groups_stops_between_two_of_them(catalog_dir: Path) -> None:
    """The console's pause waits for the group's lock, then is seen when the next group
    starts: what is recorded applied is exactly what exists, and resuming finishes."""
    count = 150
    for i in range(1, count + 1):
        _sql(
            catalog_dir,
            f"{i:03d}",
            f"CREATE TABLE g{i} (id INTEGER PRIMARY KEY);\n"
            f"INSERT INTO g{i} (id) WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i FROM n;",
            f"DROP TABLE g{i};",
        )
    deployment = services.apply("default", actor="t", backend="thread")
    wait_until(
        lambda: deployment.runs.filter(status=Status.SUCCEEDED).exists(),
        what="a first migration to be committed",
    )
    services.pause(deployment.pk, actor="alice")
    asked = _applied()
    deployment = wait_for(deployment.pk, STOPPED)
    assert deployment.status == Status.PAUSED, deployment.error
    applied = _applied()
    assert 0 < len(applied) < count
    if _groups():
        # The pause was written between two groups: the next one saw it before any of
        # its migrations.
        assert applied == asked
    existing = _existing()
    assert all((f"g{int(v)}" in existing) for v in applied)
    assert not any(f"g{i}" in existing for i in range(1, count + 1) if f"{i:03d}" not in applied)
    services.resume(deployment.pk, actor="alice", backend="thread")
    assert wait_for(deployment.pk, STOPPED).status == Status.SUCCEEDED
    assert len(_applied()) == count


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_transaction_takes_the_lock_in_the_first_moment_another_writer_leaves_it() -> None:
    """Another connection holds the write lock for 80 ms at a time, leaving it for 3 ms:
    a transaction begun meanwhile gets it within the next few gaps (SQLite's own busy
    handler, trying every few to 100 ms, lets most gaps pass)."""
    gaps = 0
    holding = threading.Event()
    done = threading.Event()

    def hold() -> None:
        nonlocal gaps
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
        try:
            while not done.is_set():
                other.execute("BEGIN IMMEDIATE")
                holding.set()
                time.sleep(0.08)
                other.execute("COMMIT")
                gaps += 1
                time.sleep(0.003)
        finally:
            other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(10)
        before = gaps
        with dialect_for("default").atomic():
            got_it_after = gaps - before
            Deployment.objects.filter(pk=-1).update(pause_requested=True)
    finally:
        done.set()
        holder.join(30)
    assert got_it_after <= 3, f"the lock was free {got_it_after} times before it was taken"
