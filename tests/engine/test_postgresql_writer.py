"""PostgreSQL: migrator's own writes below psycopg's cursor (queued, pipelined, prepared
once per connection under names of their own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from migrator import services
from migrator.dialects import dialect_for
from migrator.models import Migration

from ..conftest import write

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's writer"),
]

INSERT = "INSERT INTO writer_t (id, label, data) VALUES (%s, %s, %s)"


@pytest.fixture
def table() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE writer_t (id INTEGER PRIMARY KEY, label TEXT NOT NULL, data JSONB)"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS writer_t")


def stored() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, label, data FROM writer_t ORDER BY id")
        # Django's cursor leaves JSON as text.
        return [(k, label, json.loads(data) if data else None) for k, label, data in cursor]


def ours_prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE name LIKE %s", ["migrator_%"]
        )
        return {row[0] for row in cursor.fetchall()}


def jsonb(value: Any) -> Any:
    return connection.ops.adapt_json_value(value, None)


def test_writes_go_at_close_in_the_transaction_and_roll_back_with_it(table: None) -> None:
    dialect = dialect_for("default")
    with transaction.atomic():
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", jsonb({"a": [1, "é"]})])
            writer.executemany(INSERT, [[2, "50%", None], [3, "three", jsonb([1])]])
        assert stored() == [(1, "one", {"a": [1, "é"]}), (2, "50%", None), (3, "three", [1])]
    assert len(stored()) == 3  # committed with the transaction the writer began
    assert "INSERT INTO writer_t (id, label, data) VALUES ($1, $2, $3)" in ours_prepared()

    with pytest.raises(RuntimeError), transaction.atomic():
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [4, "four", None])
        raise RuntimeError("the step failed")
    with pytest.raises(RuntimeError), transaction.atomic():
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [5, "five", None])  # in flight when it fails
            raise RuntimeError("a value could not be dumped")
    assert [row[0] for row in stored()] == [1, 2, 3]  # the connection works on
    # Prepared statements outlive the transaction that rolled back: used again as they are.
    with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
        writer.execute(INSERT, [4, "four", None])
    assert [row[0] for row in stored()] == [1, 2, 3, 4]


def test_in_autocommit_the_writes_are_one_implicit_transaction(table: None) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation):
        with dialect_for("default").bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", None])
            writer.execute(INSERT, [1, "again", None])
    assert stored() == []
    with dialect_for("default").bookkeeping_cursor() as writer:
        writer.execute(INSERT, [1, "one", None])
    assert stored() == [(1, "one", None)]


def test_an_error_names_the_statement_and_nothing_half_prepared_is_kept(table: None) -> None:
    dialect = dialect_for("default")
    update = "UPDATE writer_t SET label = %s WHERE id = %s"
    with pytest.raises(psycopg.errors.UniqueViolation, match="writer_t_pkey"):
        with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", None])
            writer.execute(INSERT, [1, "again", None])
            writer.execute(update, ["never", 1])  # prepared after the failure: skipped
    assert stored() == []
    assert not any(statement.startswith("UPDATE writer_t") for statement in ours_prepared())
    with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
        writer.execute(INSERT, [1, "one", None])
        writer.execute(update, ["uno", 1])
    assert stored() == [(1, "uno", None)]


def test_a_copy_between_statements_comes_in_order(table: None) -> None:
    """Many rows go by COPY, which a pipeline cannot carry: what was sent before is
    finished first, and statements after it go on in a new pipeline."""
    with transaction.atomic(), dialect_for("default").bookkeeping_cursor() as writer:
        writer.execute(INSERT, [1, "before", None])
        with writer.copy("COPY writer_t (id, label, data) FROM STDIN") as copy:
            for key in range(2, 30):
                copy.write_row([key, f"copied {key}", None])
        writer.execute("UPDATE writer_t SET label = %s WHERE id = %s", ["after", 29])
    got = stored()
    assert [row[0] for row in got] == list(range(1, 30))
    assert got[0][1] == "before" and got[-1][1] == "after"


def test_a_result_is_read_after_what_was_queued(table: None) -> None:
    with transaction.atomic(), dialect_for("default").bookkeeping_cursor() as writer:
        writer.execute(INSERT, [7, "seven", None])
        writer.execute("SELECT count(*), max(id) FROM writer_t WHERE label = %s", ["seven"])
        assert writer.fetchone() == (1, 7)


def test_statements_deallocated_under_it_are_prepared_again(table: None) -> None:
    dialect = dialect_for("default")
    with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
        writer.execute(INSERT, [1, "one", None])
    keeper = dialect.session_keeper(tuple(dialect.split("DEALLOCATE ALL;")))
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    keeper.ours()
    assert ours_prepared() == set()
    with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
        writer.execute(INSERT, [2, "two", None])
    assert [row[0] for row in stored()] == [1, 2]


def test_a_connection_whose_owner_prepares_gets_unnamed_statements(table: None) -> None:
    """psycopg deallocates everything after a DROP or a rollback once it prepares
    statements itself: migrator's would go with them."""
    dialect = dialect_for("default")
    connection.ensure_connection()
    raw = connection.connection
    raw.prepare_threshold = 0
    try:
        for key in (1, 2):
            with transaction.atomic():
                with dialect.bookkeeping_cursor() as writer:
                    writer.execute(INSERT, [key, "x", None])
                # The host's own statements, by a cursor binding on the server.
                with psycopg.Cursor(raw) as cursor:
                    cursor.execute("SELECT count(*) FROM writer_t WHERE id > %s", [0])
                    cursor.execute("CREATE TABLE writer_tmp (id INTEGER)")
                    cursor.execute("DROP TABLE writer_tmp")  # psycopg: DEALLOCATE ALL
        assert [row[0] for row in stored()] == [1, 2]
        assert not any(s.startswith("INSERT INTO writer_t ") for s in ours_prepared())
    finally:
        raw.prepare_threshold = None


def test_a_python_migration_that_deallocates_everything_does_not_break_the_next(
    catalog_dir: Path,
) -> None:
    """A migration's own code may run ``DEALLOCATE ALL`` on the engine's connection:
    the next write asks the server which of migrator's statements it still has."""
    write(catalog_dir, "001_first.sql", "-- migrate:up\nCREATE TABLE dealloc_a (id INTEGER);\n")
    write(
        catalog_dir,
        "002_python.py",
        "from migrator import dsl\n\n"
        "def forward(ctx):\n"
        "    with ctx.connection.cursor() as cursor:\n"
        "        cursor.execute('DEALLOCATE ALL')\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [dsl.RunPython(forward)]\n",
    )
    write(catalog_dir, "003_after.sql", "-- migrate:up\nCREATE TABLE dealloc_b (id INTEGER);\n")
    try:
        deployment = services.apply("default", actor="t", backend="inline")
        assert deployment.status == "succeeded", deployment.error
        assert Migration.objects.filter(applied=True).count() == 3
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS dealloc_a, dealloc_b")


def test_a_value_that_cannot_be_sent_fails_cleanly(table: None) -> None:
    """Inside a transaction the statements in flight are read and dropped (the connection
    stays usable); queued in autocommit, the half-sent pipeline's connection is closed
    rather than reused with answers that belong to other statements."""
    dialect = dialect_for("default")
    with pytest.raises(psycopg.ProgrammingError, match="cannot adapt"):
        with transaction.atomic(), dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", None])
            writer.execute(INSERT, [2, object(), None])
    assert stored() == []

    connection.ensure_connection()
    raw = connection.connection
    with pytest.raises(psycopg.ProgrammingError, match="cannot adapt"):
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", None])
            writer.execute(INSERT, [2, object(), None])
    assert raw.closed
    connection.close()  # what Django does with a connection found unusable
    assert stored() == []
