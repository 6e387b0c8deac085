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
