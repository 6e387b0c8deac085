"""A run's first SQL statements sent before the run's bookkeeping (PostgreSQL), and what
happens when something stops the run in between."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from migrator import services
from migrator.engine import execute, faults
from migrator.models import Deployment, Migration
from migrator.states import Status

from ..conftest import marker_sql, write

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


def _exists(table: str) -> bool:
    with connection.cursor() as cursor:
        return table in connection.introspection.table_names(cursor)


@pytest.fixture
def sequence() -> object:
    """A sequence: ``nextval`` is not undone by a rollback, so it tells whether a
    statement reached the server."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE ahead_seq")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP SEQUENCE IF EXISTS ahead_seq")


def _sequence_used() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_called FROM ahead_seq")
        return bool(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_the_first_statements_run_during_the_bookkeeping_and_a_failure_there_undoes_them(
    catalog_dir: Path, sequence: object
) -> None:
    write(
        catalog_dir,
        "001_ahead.sql",
        marker_sql(
            "SELECT nextval('ahead_seq');\nCREATE TABLE ahead_t (id INTEGER);",
            "DROP TABLE ahead_t;",
        ),
    )
    # The engine fails right after the run started, before its step ran.
    with faults.armed("run_started"):
        deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.FAILED
    assert "InjectedFault" in deployment.error
    assert _sequence_used()  # the statements had reached the server...
    assert not _exists("ahead_t")  # ...and were rolled back with their transaction
    assert not Migration.objects.get(version="001").applied
    # Nothing was left open on the connection: the deployment resumes and finishes.
    resumed = services.wait(services.resume(deployment.pk, actor="t", backend="inline").pk)
    assert resumed.status == Status.SUCCEEDED, resumed.error
    assert _exists("ahead_t") and Migration.objects.get(version="001").applied
    step_run = resumed.runs.get().step_runs.get()
    assert step_run.status == Status.SUCCEEDED and step_run.attempts == 1
    assert services.rollback("default", actor="t", backend="inline").status == Status.SUCCEEDED


def test_a_pause_asked_before_the_first_run_runs_nothing_of_it(
    catalog_dir: Path,
) -> None:
    write(
        catalog_dir,
        "001_a.sql",
        marker_sql("CREATE TABLE paused_a (id INTEGER);", "DROP TABLE paused_a;"),
    )
    deployment = services.create_deployment(services.plan("default"), actor="t")
    Deployment.objects.filter(pk=deployment.pk).update(status=Status.QUEUED, pause_requested=True)
    paused = execute(deployment.pk)
    assert paused is not None and paused.status == Status.PAUSED
    # Asked before anything is sent ahead (PostgreSQL), it is still pending; otherwise
    # paused before its first step.
    assert paused.runs.get().status in {Status.PENDING, Status.PAUSED}
    assert not _exists("paused_a")
    resumed = services.wait(services.resume(paused.pk, actor="t", backend="inline").pk)
    assert resumed.status == Status.SUCCEEDED, resumed.error
    assert _exists("paused_a")
    assert services.rollback("default", actor="t", backend="inline").status == Status.SUCCEEDED


def test_a_failing_statement_sent_ahead_fails_its_step_with_its_line(catalog_dir: Path) -> None:
    write(
        catalog_dir,
        "001_bad.sql",
        marker_sql(
            "CREATE TABLE bad_t (id INTEGER);\nINSERT INTO bad_t VALUES (1);\n"
            "INSERT INTO no_such_table VALUES (2);",
            "DROP TABLE bad_t;",
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.ROLLED_BACK  # the failed deployment's own rollback
    # Line 5 of the file (the marker and the two statements before it).
    assert "001 step 1 (bad): statement at line 5 failed" in deployment.error
    assert not _exists("bad_t")
    step_run = deployment.runs.get().step_runs.get()
    assert "line 5" in step_run.error and "no_such_table" in step_run.error


# -- the next run's statements sent with the previous run's commit ---------------------


@pytest.fixture
def chains(settings: object) -> list[object]:
    """Deployments long enough that no schema is recorded between runs (what lets the
    next run's statements follow a commit), and the chains sent, as they are sent."""
    from migrator.dialects import postgresql_cursor

    settings.MIGRATOR = {**settings.MIGRATOR, "SCHEMA_CAPTURE_MAX_RUNS": 0}  # type: ignore[attr-defined]
    sent: list[object] = []
    original = postgresql_cursor.Writer.commit

    def commit(self: object, chain: object = None) -> None:
        if chain is not None:
            sent.append(chain)
        original(self, chain)  # type: ignore[arg-type]

    postgresql_cursor.Writer.commit = commit  # type: ignore[method-assign]
    yield sent
    postgresql_cursor.Writer.commit = original  # type: ignore[method-assign]


def _chained_folder(catalog_dir: Path, count: int) -> None:
    for number in range(1, count + 1):
        write(
            catalog_dir,
            f"{number:03d}_c{number}.sql",
            marker_sql(
                f"CREATE TABLE chain_{number} (id INTEGER);\n"
                f"INSERT INTO chain_{number} VALUES (1), (2);",
                f"DROP TABLE chain_{number};",
            ),
        )


def _session_is_djangos() -> None:
    """The connection as Django left it: autocommit, no transaction, no pipeline."""
    from psycopg import pq

    connection.ensure_connection()
    raw = connection.connection
    assert connection.get_autocommit() and raw.autocommit
    assert not connection.in_atomic_block and not connection.atomic_blocks
    assert raw.pgconn.transaction_status == pq.TransactionStatus.IDLE
    assert not raw.pgconn.pipeline_status


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_each_run_commits_alone_when_the_next_ones_statements_follow_its_commit(
    catalog_dir: Path, chains: list[object]
) -> None:
    _chained_folder(catalog_dir, 6)
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.SUCCEEDED, deployment.error
    assert chains  # the next run's statements did follow a commit
    # Each migration in a transaction of its own, with its own records.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT xmin::text) FROM pg_class WHERE relname LIKE 'chain\\_%%'"
        )
        assert cursor.fetchone()[0] == 6
    for run in deployment.runs.all():
        assert run.status == Status.SUCCEEDED and run.rows_done == 2
        step_run = run.step_runs.get()
        assert step_run.status == Status.SUCCEEDED and step_run.rows_affected == 2
    assert Migration.objects.filter(applied=True).count() == 6
    _session_is_djangos()
    back = services.rollback("default", actor="t", backend="inline", count=6)
    assert back.status == Status.SUCCEEDED, back.error
    assert not any(_exists(f"chain_{n}") for n in range(1, 7))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_a_commit_that_fails_fails_its_run_and_rolls_back_the_statements_that_followed_it(
    catalog_dir: Path, chains: list[object], sequence: object
) -> None:
    _chained_folder(catalog_dir, 2)
    # 003's commit fails (a deferred check), with 004's statements already sent after it.
    write(
        catalog_dir,
        "003_deferred.sql",
        marker_sql(
            "CREATE TABLE chain_3 (id INTEGER UNIQUE DEFERRABLE INITIALLY DEFERRED);\n"
            "INSERT INTO chain_3 VALUES (1), (1);",
            "DROP TABLE chain_3;",
        ),
    )
    write(
        catalog_dir,
        "004_after.sql",
        marker_sql(
            "SELECT nextval('ahead_seq');\nCREATE TABLE chain_4 (id INTEGER);",
            "DROP TABLE chain_4;",
        ),
    )
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "003" in deployment.error and "duplicate key" in deployment.error
    assert any(chain.sqls[0].startswith("SELECT nextval") for chain in chains)  # type: ignore[attr-defined]
    assert _sequence_used()  # 004's statements reached the server...
    assert not _exists("chain_4") and not _exists("chain_3")  # ...and were rolled back
    applied = set(Migration.objects.filter(applied=True).values_list("version", flat=True))
    assert applied == {"001", "002"}
    runs = {run.migration.version: run.status for run in deployment.runs.all()}
    assert runs["003"] == Status.FAILED and runs["004"] == Status.PENDING
    _session_is_djangos()
    # Fixed, the deployment goes on from 003.
    write(
        catalog_dir,
        "003_deferred.sql",
        marker_sql(
            "CREATE TABLE chain_3 (id INTEGER UNIQUE DEFERRABLE INITIALLY DEFERRED);",
            "DROP TABLE chain_3;",
        ),
    )
    services.sync(actor="t")
    again = services.apply("default", actor="t", backend="inline")
    assert again.status == Status.SUCCEEDED, again.error
    assert _exists("chain_3") and _exists("chain_4")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_statements_that_followed_a_commit_and_fail_fail_their_own_run(
    catalog_dir: Path, chains: list[object]
) -> None:
    _chained_folder(catalog_dir, 2)
    write(
        catalog_dir,
        "003_broken.sql",
        marker_sql("CREATE TABLE chain_3 (id INTEGER);\nSELECT * FROM no_such_table;", ""),
    )
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert chains
    assert "statement at line 4 failed" in deployment.error and "no_such_table" in deployment.error
    assert deployment.error.startswith("003")
    applied = set(Migration.objects.filter(applied=True).values_list("version", flat=True))
    assert applied == {"001", "002"} and not _exists("chain_3")
    _session_is_djangos()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_a_stop_between_runs_rolls_back_the_next_runs_statements_and_resumes(
    catalog_dir: Path, chains: list[object], sequence: object
) -> None:
    write(
        catalog_dir,
        "001_first.sql",
        marker_sql("CREATE TABLE chain_1 (id INTEGER);", "DROP TABLE chain_1;"),
    )
    write(
        catalog_dir,
        "002_second.sql",
        marker_sql(
            "SELECT nextval('ahead_seq');\nCREATE TABLE chain_2 (id INTEGER);",
            "DROP TABLE chain_2;",
        ),
    )
    with faults.armed("between_runs"):
        deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED and "InjectedFault" in deployment.error
    assert chains and _sequence_used()  # 002's statements had followed 001's commit...
    assert _exists("chain_1") and not _exists("chain_2")  # ...and were rolled back
    assert Migration.objects.get(version="001").applied
    assert not Migration.objects.get(version="002").applied
    _session_is_djangos()
    resumed = services.wait(services.resume(deployment.pk, actor="t", backend="inline").pk)
    assert resumed.status == Status.SUCCEEDED, resumed.error
    assert _exists("chain_2") and Migration.objects.get(version="002").applied


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sent ahead on PostgreSQL")
def test_a_script_that_drops_prepared_statements_is_not_sent_before_the_commit_ahead_of_it(
    catalog_dir: Path, chains: list[object]
) -> None:
    """Migrator's records are prepared statements: a script that deallocates them
    (``DEALLOCATE ALL``, ``DISCARD ALL``) must run after the previous run's records were
    written, and its own records be prepared again after it."""
    _chained_folder(catalog_dir, 2)
    write(
        catalog_dir,
        "003_discard.sql",
        marker_sql("DEALLOCATE ALL;\nCREATE TABLE chain_3 (id INTEGER);", "DROP TABLE chain_3;"),
    )
    write(
        catalog_dir,
        "004_after.sql",
        marker_sql("CREATE TABLE chain_4 (id INTEGER);", "DROP TABLE chain_4;"),
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.SUCCEEDED, deployment.error
    assert any("DEALLOCATE" in chain.sqls[0] for chain in chains)  # type: ignore[attr-defined]
    assert Migration.objects.filter(applied=True).count() == 4
    assert _exists("chain_3") and _exists("chain_4")
    _session_is_djangos()
