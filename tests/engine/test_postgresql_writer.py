"""PostgreSQL below psycopg's cursor: migrator's own writes (queued, pipelined, prepared
once per connection under names of their own), and a script's statements sent together."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.db.backends.signals import connection_created

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


def _traced(call: Any) -> tuple[Any, list[tuple[str, str]]]:
    """``call()``'s result and the protocol messages of the default database's
    connections meanwhile, the engine's among them (libpq's trace: direction F or B, and
    the message with its text)."""
    descriptor, path = tempfile.mkstemp()
    traced: list[Any] = []

    def trace(**signal: Any) -> None:
        wrapper = signal["connection"]  # Django's, as connection_created names it
        if wrapper.alias == "default":
            traced.append(wrapper.connection.pgconn)
            traced[-1].trace(descriptor)

    connection.ensure_connection()
    trace(connection=connection)
    connection_created.connect(trace)
    try:
        result = call()
    finally:
        connection_created.disconnect(trace)
        for pgconn in traced:
            if pgconn.status == psycopg.pq.ConnStatus.OK:
                pgconn.untrace()
        os.close(descriptor)
    with open(path, encoding="utf-8") as lines:
        fields = [line.rstrip("\n").split("\t") for line in lines]
    os.unlink(path)
    return result, [(f[1], f[3] + f[4]) for f in fields if len(f) > 4]


def test_a_scripts_statements_go_to_the_server_together_with_its_begin(
    catalog_dir: Path,
) -> None:
    """psycopg sends a transaction's BEGIN alone and waits for it, then each statement: a
    SQL step's statements go together instead, the BEGIN with them (no answer from the
    server in between), and their rows and seconds are counted each as before. A
    statement with a ``;`` in it (a function's body) goes alone, as psycopg sends it; a
    failing statement in the middle names its line, and nothing of the step is left."""
    write(
        catalog_dir,
        "001_rows.sql",
        "-- migrate:up\nCREATE TABLE begin_t (id INTEGER);\n"
        "INSERT INTO begin_t VALUES (1), (2);\n"
        "SELECT pg_sleep(0.3);\n"
        "UPDATE begin_t SET id = id + 10 WHERE id = 1;\n"
        "-- migrate:down\nDROP TABLE begin_t;\n",
    )
    write(
        catalog_dir,
        "002_function.sql",
        "-- migrate:up\nALTER TABLE begin_t ADD COLUMN note TEXT;\n"
        "CREATE FUNCTION begin_f() RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN 1; END $$;\n"
        "UPDATE begin_t SET note = 'f';\n"
        "-- migrate:down\nDROP FUNCTION begin_f();\nALTER TABLE begin_t DROP COLUMN note;\n",
    )
    try:
        deployment, messages = _traced(
            lambda: services.apply("default", actor="t", backend="inline")
        )
        assert deployment.status == "succeeded", deployment.error
        runs = {run.migration.version: run for run in deployment.runs.select_related("migration")}
        assert [sr.rows_affected for sr in runs["001"].step_runs.all()] == [2 + 1 + 1]
        assert [sr.rows_affected for sr in runs["002"].step_runs.all()] == [2]

        def sent_before_an_answer(statement: str) -> list[str]:
            """What the client sent since the server last answered, up to ``statement``
            (the statement itself: parsed unnamed, or a simple query)."""
            starts = (f'Parse "" "{statement}', f'Query "{statement}')
            at = next(i for i, (d, m) in enumerate(messages) if d == "F" and m.startswith(starts))
            answered = max(i for i, (d, _m) in enumerate(messages[:at]) if d == "B")
            return [m for d, m in messages[answered + 1 : at] if d == "F"]

        together = sent_before_an_answer("UPDATE begin_t SET id")
        assert [m.split('"')[3] for m in together if m.startswith("Parse")] == [
            "BEGIN",
            "CREATE TABLE begin_t (id INTEGER)",
            "INSERT INTO begin_t VALUES (1), (2)",
            "SELECT pg_sleep(0.3)",
        ]
        assert any('"BEGIN"' in m for m in sent_before_an_answer("ALTER TABLE begin_t"))
        # The function's body holds a ';': sent alone, after the ALTER's answer.
        assert sent_before_an_answer("CREATE FUNCTION begin_f") == []
        assert dialect_for("default").scalar("SELECT begin_f()") == 1

        # Rows and seconds of each statement, as a dry run reports them.
        write(
            catalog_dir,
            "003_timed.sql",
            "-- migrate:up\nINSERT INTO begin_t VALUES (3);\nSELECT pg_sleep(0.3);\n"
            "UPDATE begin_t SET note = 'g';\n-- migrate:down\nDELETE FROM begin_t WHERE id = 3;\n",
        )
        dry = services.apply("default", actor="t", backend="inline", dry_run=True)
        assert dry.status == "succeeded", dry.error
        (step,) = dry.report["runs"][0]["steps"]
        timed = [(s["sql"].split()[0], s["rows"], s["seconds"]) for s in step["statements"]]
        assert [(verb, rows) for verb, rows, _ in timed] == [
            ("INSERT", 1),
            ("SELECT", 1),
            ("UPDATE", 3),
        ]
        assert timed[1][2] >= 0.3 and timed[0][2] < 0.3 and timed[2][2] < 0.3, timed

        write(
            catalog_dir,
            "003_timed.sql",
            "-- migrate:up\nINSERT INTO begin_t VALUES (100);\n\n"
            "INSERT INTO begin_missing VALUES (1);\nINSERT INTO begin_t VALUES (101);\n"
            "-- migrate:down\nSELECT 1;\n",
        )
        failed = services.apply("default", actor="t", backend="inline", auto_rollback=False)
        assert failed.status == "failed"
        assert "statement at line 4 failed" in failed.error
        assert 'ProgrammingError: relation "begin_missing" does not exist' in failed.error
        assert not Migration.objects.get(version="003").applied
        assert dialect_for("default").rows("SELECT id FROM begin_t ORDER BY id") == [(2,), (11,)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS begin_t")
            cursor.execute("DROP FUNCTION IF EXISTS begin_f()")


def test_a_connection_lost_in_the_middle_of_a_script_names_the_statement_running(
    catalog_dir: Path,
) -> None:
    """The server ends the session while the second of three statements sent together
    runs: the step fails naming that statement and the lost connection, and nothing of
    it is applied."""

    write(
        catalog_dir,
        "001_lost.sql",
        "-- migrate:up\nCREATE TABLE lost_t (id INTEGER);\nSELECT pg_sleep(30);\n"
        "INSERT INTO lost_t VALUES (1);\n-- migrate:down\nDROP TABLE lost_t;\n",
    )
    killed: list[bool] = []

    def kill() -> None:
        other = connections.create_connection("default")
        try:
            for _ in range(200):
                with other.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
                    )
                    row = cursor.fetchone()
                if row is not None:
                    killed.append(bool(row[0]))
                    return
                time.sleep(0.05)
        finally:
            other.close()

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
        killer.join()
        assert killed == [True]
        deployment.refresh_from_db()
        assert deployment.status == "failed", deployment.status
        assert "statement at line 3 failed: OperationalError" in deployment.error
        assert not Migration.objects.get(version="001").applied
        assert not dialect_for("default").table_exists("lost_t")
    finally:
        killer.join()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS lost_t")


def test_a_statement_the_connections_encoding_cannot_hold_is_named_before_any_runs() -> None:
    """Text the client encoding cannot carry fails as the statement it is in, before the
    statements are sent (nothing of the script runs)."""
    from migrator.dialects.postgresql_cursor import execute_pipelined

    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        raw = other.connection
        raw.execute("SET client_encoding = 'LATIN1'")
        raw.autocommit = False
        outcome = execute_pipelined(raw, ["SELECT 'é'", "SELECT '€'", "SELECT 3"])
        assert outcome is not None
        done, failed = outcome
        assert done == [] and failed is not None
        assert failed[0] == 1 and isinstance(failed[1], UnicodeEncodeError)
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        outcome = execute_pipelined(raw, ["SELECT 'é'", "SELECT 2"])
        assert outcome is not None and outcome[1] is None
        assert [rows for rows, _seconds in outcome[0]] == [1, 1]
        raw.rollback()
    finally:
        other.close()


def _statements(script: str) -> tuple[Any, ...]:
    from migrator.dialects import split_statements

    return split_statements("postgresql", script)


def test_a_script_sent_whole_is_followed_by_the_writers_rows_in_its_transaction(
    table: None,
) -> None:
    """The script's statements go first and are read by whoever sent them; the writer's
    rows and the COMMIT follow them in the same pipeline and transaction."""
    from migrator.engine.sql import send_statements

    dialect = dialect_for("default")
    with transaction.atomic():
        sent = send_statements(
            dialect,
            _statements(
                "INSERT INTO writer_t VALUES (1, 'one', NULL);\nUPDATE writer_t SET id = 2;"
            ),
        )
        assert sent is not None
        try:
            with dialect.bookkeeping_cursor() as writer:
                writer.execute(INSERT, [3, "three", None])
                result = sent.result()  # in the middle of the writer's statements
                writer.execute(INSERT, [4, "four", None])
        finally:
            sent.end()
    assert [(s.line, s.rows) for s in result.statements] == [(1, 1), (2, 1)]
    assert [row[0] for row in stored()] == [2, 3, 4]


def test_a_failed_script_sent_whole_takes_the_writers_rows_with_it_and_names_its_line(
    table: None,
) -> None:
    """A statement of the script fails: the writer's rows sent after it are not written,
    the failure names the statement's line, and the writer's next flush (its prepared
    statements) works."""
    from migrator.engine.sql import StatementError, send_statements

    dialect = dialect_for("default")
    with transaction.atomic():
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [1, "one", None])  # prepared on this connection
    with pytest.raises(StatementError) as failed, transaction.atomic():
        sent = send_statements(
            dialect,
            _statements(
                "INSERT INTO writer_t VALUES (2, 'two', NULL);\n"
                "INSERT INTO writer_t VALUES (1, 'again', NULL);\n"
                "INSERT INTO writer_t VALUES (9, 'never', NULL);"
            ),
            "001 step 1 (x): ",
        )
        assert sent is not None
        try:
            with dialect.bookkeeping_cursor() as writer:
                writer.execute(INSERT, [5, "five", None])
                writer.execute("INSERT INTO writer_t (id, label) VALUES (%s, %s)", [6, "six"])
                sent.result()
        finally:
            sent.end()
    assert "001 step 1 (x): statement at line 2 failed: IntegrityError" in str(failed.value)
    assert [row[0] for row in stored()] == [1]
    with transaction.atomic():
        with dialect.bookkeeping_cursor() as writer:
            writer.execute(INSERT, [7, "seven", None])
            writer.execute("INSERT INTO writer_t (id, label) VALUES (%s, %s)", [8, "eight"])
    assert [row[0] for row in stored()] == [1, 7, 8]


def test_a_query_while_a_script_is_in_flight_waits_for_it() -> None:
    """Django's connection used while a script sent whole runs: the query waits for the
    script (raising its failure) instead of breaking the pipeline the script is in."""
    from migrator.engine.sql import StatementError, send_statements

    dialect = dialect_for("default")
    with transaction.atomic():
        sent = send_statements(dialect, _statements("SELECT pg_sleep(0.2);\nSELECT 1;"))
        assert sent is not None
        try:
            assert dialect.scalar("SELECT 41 + 1") == 42
            assert [s.rows for s in sent.result().statements] == [1, 1]
        finally:
            sent.end()
    with pytest.raises(StatementError, match="line 2 failed"), transaction.atomic():
        sent = send_statements(dialect, _statements("SELECT 1;\nSELECT 1/0;"))
        assert sent is not None
        try:
            dialect.scalar("SELECT 1")
        finally:
            sent.end()
    assert dialect.scalar("SELECT 2") == 2


def test_a_migrations_rows_are_recorded_when_its_script_is_read_after_its_record_is_built(
    catalog_dir: Path,
) -> None:
    """The step's record is built while the script runs: the rows it changed are still
    those of its step run, its run and the run's history row; a failing script leaves no
    record of success and nothing of the script."""
    from migrator.models import Run, StepRun

    write(
        catalog_dir,
        "001_rows.sql",
        "-- migrate:up\nCREATE TABLE rows_t (id INTEGER);\n"
        "INSERT INTO rows_t SELECT generate_series(1, 7);\nUPDATE rows_t SET id = id + 1 "
        "WHERE id < 4;\n-- migrate:down\nDROP TABLE rows_t;\n",
    )
    write(
        catalog_dir,
        "002_fails.sql",
        "-- migrate:up\nCREATE TABLE fails_t (id INTEGER);\nINSERT INTO rows_t VALUES ('x');\n"
        "-- migrate:down\nDROP TABLE fails_t;\n",
    )
    try:
        deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
        assert deployment.status == "failed"
        assert "002 step 1 (fails): statement at line 3 failed: DataError" in deployment.error
        first = StepRun.objects.get(run__migration__version="001")
        assert (first.status, first.rows_affected) == ("succeeded", 10)
        run = Run.objects.get(migration__version="001")
        assert (run.status, run.rows_done, run.rows_total) == ("succeeded", 10, 10)
        # The run's history row of its success says them too.
        assert [(h.status, h.rows_done) for h in run.history.order_by("history_id")][-1] == (
            "succeeded",
            10,
        )
        failed = StepRun.objects.get(run__migration__version="002")
        assert failed.status == "failed" and failed.rows_affected == 0
        assert not dialect_for("default").table_exists("fails_t")
        assert Migration.objects.get(version="002").applied is False
        assert Migration.objects.get(version="001").applied is True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rows_t")
            cursor.execute("DROP TABLE IF EXISTS fails_t")


def test_an_empty_script_sent_whole_is_answered() -> None:
    """A deliberately empty down part sent whole: only its transaction's BEGIN goes, and
    it is answered (nothing waits for a Sync that is not coming)."""
    from migrator.engine.sql import send_statements

    dialect = dialect_for("default")
    with transaction.atomic():
        sent = send_statements(dialect, ())
        assert sent is not None
        try:
            assert sent.result().statements == []
        finally:
            sent.end()
        assert dialect.scalar("SELECT 1") == 1


def test_a_script_larger_than_the_sockets_buffer_is_sent_whole(table: None) -> None:
    """Megabytes of statements sent whole: what the socket could not take at once is sent
    while the results are read (nothing waits for statements the server never got)."""
    from migrator.engine.sql import send_statements

    script = "\n".join(
        f"INSERT INTO writer_t VALUES ({n}, '{'x' * 200}', NULL);" for n in range(1, 20001)
    )
    dialect = dialect_for("default")
    with transaction.atomic():
        sent = send_statements(dialect, _statements(script))
        assert sent is not None
        try:
            assert sent.result().rows == 20000
        finally:
            sent.end()
    assert len(stored()) == 20000


def test_a_runs_rows_add_up_over_its_sql_steps_read_after_their_records(
    catalog_dir: Path,
) -> None:
    """Three SQL steps, each's record built while its statements run: each step run has
    its own rows, the run the sum, rolling back too."""
    from migrator.models import Run, StepRun

    write(
        catalog_dir,
        "001_steps.py",
        "from migrator import dsl\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [\n"
        "        dsl.RunSQL('CREATE TABLE steps_t (id INT);\\n"
        "INSERT INTO steps_t SELECT generate_series(1, 3)', backward='DROP TABLE steps_t'),\n"
        "        dsl.RunSQL('UPDATE steps_t SET id = id * 10 WHERE id > 1',\n"
        "                   backward='UPDATE steps_t SET id = id / 10 WHERE id > 1'),\n"
        "        dsl.RunSQL('INSERT INTO steps_t VALUES (4), (5), (6), (7)',\n"
        "                   backward='DELETE FROM steps_t WHERE id BETWEEN 4 AND 7'),\n"
        "    ]\n",
    )
    try:
        deployment = services.apply("default", actor="t", backend="inline")
        assert deployment.status == "succeeded", deployment.error
        forward = Run.objects.get(direction="forward")
        steps = StepRun.objects.filter(run=forward).order_by("order")
        assert [s.rows_affected for s in steps] == [3, 2, 4]
        assert (forward.rows_done, forward.rows_total) == (9, 9)
        back = services.rollback("default", actor="t", backend="inline", count=1)
        assert back.status == "succeeded", back.error
        backward = Run.objects.get(direction="backward")
        steps = StepRun.objects.filter(run=backward).order_by("order")
        assert [s.rows_affected for s in steps] == [4, 2, 0]
        assert (backward.rows_done, backward.rows_total) == (6, 6)
        assert [(h.status, h.rows_done) for h in backward.history.order_by("history_id")][-1] == (
            "succeeded",
            6,
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS steps_t")


def _reads(queries: list[tuple[str, list[Any] | None]]) -> Any:
    from migrator.dialects.postgresql_cursor import PipelinedReads

    connection.ensure_connection()
    return PipelinedReads(connection.connection, queries)


def test_reads_sent_together_answer_in_turn_and_a_failure_stops_the_ones_after_it() -> None:
    """The schema capture's queries, sent at once: each one's rows as typed by psycopg;
    the first that fails raises its error, the ones after it did not run, and the
    connection is psycopg's again afterwards (in or out of a transaction)."""
    queries: list[tuple[str, list[Any] | None]] = [
        ("SELECT %s::int + 1, ARRAY['a', %s]", [41, "b"]),
        ("SELECT 1 / 0", None),
        ("SELECT pg_catalog.set_config('migrator.reached', 'yes', false)", None),
    ]
    for atomic in (False, True):
        with transaction.atomic() if atomic else contextlib.nullcontext():
            with pytest.raises(psycopg.errors.DivisionByZero), _reads(queries) as reads:
                assert reads.rows() == [(42, ["a", "b"])]
                reads.rows()
            if atomic:
                transaction.set_rollback(True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('migrator.reached', true)")
            assert cursor.fetchone()[0] in (None, "")
    # Left before reading them all: the rest is read and dropped.
    with _reads([("SELECT 1", None), ("SELECT 2", None)]) as reads:
        assert reads.rows() == [(1,)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 3")
        assert cursor.fetchone() == (3,)
