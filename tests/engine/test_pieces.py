"""The engine's pieces on their own: journal, checkpoints, statement splitting, faults."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from migrator.dialects import DIALECTS, dialect_for, split_statements
from migrator.engine import faults, rows
from migrator.engine.checkpoints import Checkpoints, ensure_table
from migrator.engine.journal import Journal, compare_and_set
from migrator.engine.target import Target
from migrator.models import Deployment, Event, Migration, Run, StepRun
from migrator.states import InvalidTransition, Status

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def deployment() -> Deployment:
    migration = Migration.objects.create(
        database="default", version="1", name="m", source="m.sql", format="sql", checksum="v1:x"
    )
    deployment = Deployment.objects.create(direction="forward", requested_by="alice")
    Run.objects.create(deployment=deployment, migration=migration, order=1, direction="forward")
    return deployment


def test_journal_writes_rows_history_and_events_together(deployment: Deployment) -> None:
    run = deployment.runs.select_related("migration").get()
    journal = Journal(deployment)
    journal.transition(run, Status.RUNNING)
    step = journal.create(StepRun(run=run, order=1, step_order=1, name="s", kind="sql"))
    journal.transition(step, Status.RUNNING)
    journal.transition(step, Status.SUCCEEDED, rows_affected=5)
    journal.transition(run, Status.SUCCEEDED, rows_done=5)
    assert Run.objects.get().status == Status.PENDING  # nothing written yet
    journal.flush()
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED and run.started_at and run.finished_at
    assert StepRun.objects.get().rows_affected == 5
    assert [h.status for h in run.history.order_by("history_id")] == [
        Status.PENDING,
        Status.RUNNING,
        Status.SUCCEEDED,
    ]
    assert Event.objects.filter(deployment=deployment, action="status").count() == 4
    # Events about a row inserted in the same flush still name it.
    assert Event.objects.filter(step_run=step).count() == 2
    assert Event.objects.filter(run=run).count() == 4
    assert not journal.pending


def test_journal_refuses_a_transition_the_table_does_not_allow(deployment: Deployment) -> None:
    run = deployment.runs.get()
    with pytest.raises(InvalidTransition):
        Journal(deployment).transition(run, Status.SUCCEEDED)  # pending cannot succeed


def test_a_journal_restored_after_a_rolled_back_flush_writes_everything_again(
    deployment: Deployment,
) -> None:
    run = deployment.runs.select_related("migration").get()
    journal = Journal(deployment)
    journal.transition(run, Status.RUNNING)
    step = journal.create(StepRun(run=run, order=1, step_order=1, name="s", kind="sql"))
    memento = journal.savepoint(run, step)
    with pytest.raises(RuntimeError):
        with Target("default").atomic():
            journal.transition(run, Status.SUCCEEDED)
            journal.flush()
            raise RuntimeError("the step's transaction rolls back")
    journal.restore(memento)
    assert run.status == Status.RUNNING and step.pk is None
    assert not StepRun.objects.exists()
    journal.transition(run, Status.FAILED)
    journal.flush()
    assert Run.objects.get().status == Status.FAILED and StepRun.objects.count() == 1


def test_compare_and_set_lets_exactly_one_caller_win(deployment: Deployment) -> None:
    deployment.status = Status.QUEUED
    deployment.save()
    first = Deployment.objects.get()
    second = Deployment.objects.get()
    assert compare_and_set(first, {Status.QUEUED}, Status.RUNNING)
    assert not compare_and_set(second, {Status.QUEUED}, Status.CANCELLED)
    assert Deployment.objects.get().status == Status.RUNNING


@pytest.mark.parametrize("count", [3, 30])
def test_new_rows_go_in_with_their_history_row_each(count: int) -> None:
    """Few rows are pipelined statements; many go by COPY (PostgreSQL) or with keys taken
    inside the transaction (SQLite): either way every row gets a key of its own, past the
    ones before it, with a ``+`` history row under that key, and later rows follow."""

    def migration(version: str) -> Migration:
        return Migration(
            database="default",
            version=version,
            name=f"m{version}",
            source=f"{version}.sql",
            format="sql",
            checksum="v1:x",
            options={"version": version},
            depends_on=["000"],
        )

    first = Migration.objects.create(
        database="default", version="000", name="m", source="m.sql", format="sql", checksum="v"
    )
    created = [migration(f"{i:03d}") for i in range(1, count + 1)]
    rows.create_with_history(created, reason="synced by the test")
    keys = [obj.pk for obj in created]
    assert len(set(keys)) == count and min(keys) > first.pk
    stored = {m.pk: m for m in Migration.objects.filter(pk__in=keys)}
    assert {stored[obj.pk].version for obj in created} == {obj.version for obj in created}
    assert stored[created[-1].pk].options == {"version": f"{count:03d}"}
    assert stored[created[-1].pk].depends_on == ["000"]
    history = Migration.history.filter(history_change_reason="synced by the test")
    assert sorted(history.values_list("id", flat=True)) == sorted(keys)
    assert set(history.values_list("history_type", flat=True)) == {"+"}
    # Each history row holds its row as stored, every tracked field (JSON, times set on
    # insert, keys), as simple-history's own bulk_create_with_history writes it.
    tracked = [f.attname for f in Migration.history.model.tracked_fields]
    for row in history:
        assert {name: getattr(row, name) for name in tracked} == {
            name: getattr(stored[row.id], name) for name in tracked
        }
        assert row.history_user_id is None and row.history_date >= first.synced_at
    assert Migration.objects.create(
        database="default", version="999", name="m", source="z.sql", format="sql", checksum="v"
    ).pk > max(keys)


def test_rows_written_in_bulk_read_back_as_the_orm_writes_them(deployment: Deployment) -> None:
    """Times (UTC or not, with or without microseconds), JSON and empty keys go in as
    Django's own save would put them."""
    utc = timezone.now()
    times = [utc, utc.replace(microsecond=0), utc.astimezone(dt.timezone(dt.timedelta(hours=5)))]
    data = [{"i": [0], "ü": "é"}, [1, None, {"x": 1.5}], "text 2"]
    built = [
        rows.build(Event, time=t, action="t", message=f"m{i}", actor="a", data=data[i])
        for i, t in enumerate(times)
    ]
    with dialect_for("default").bookkeeping_cursor() as cursor:
        rows.insert(cursor, "default", built, keys=False)
    saved = Event.objects.create(
        time=times[2], action="t", message="orm", actor="a", data={"i": [0], "ü": "é"}
    )
    stored = {e.message: e for e in Event.objects.filter(action="t")}
    assert [stored[f"m{i}"].time for i in range(3)] == times
    assert [stored[f"m{i}"].data for i in range(3)] == data and stored["m0"].run_id is None
    assert stored["orm"].time == stored["m2"].time == saved.time
    with connection.cursor() as cursor:  # the same JSON text as the ORM's
        cursor.execute("SELECT message, data FROM migrator_event WHERE message IN ('m0', 'orm')")
        texts = dict(cursor.fetchall())
    assert texts["m0"] == texts["orm"]


def test_rows_loaded_from_their_values_are_what_the_orm_loads(deployment: Deployment) -> None:
    """``rows.load`` against ``select_related``: the same values on each instance and on
    its related one (none where the key is null), saved state, and a related row read in
    part loads the rest when asked."""
    run = deployment.runs.get()
    Migration.objects.create(
        database="default",
        version="2",
        name="n",
        source="n.sql",
        format="sql",
        checksum="v1:y",
        applied=True,
        applied_checksum="v1:y",
        applied_run=run,
        options={"foreign_keys": False},
        depends_on=["1"],
        applied_at=timezone.now(),
    )

    def fields(obj: object) -> dict[str, object]:
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}

    queryset = Migration.objects.filter(database="default").order_by("version")
    expected = list(queryset.select_related("applied_run"))
    loaded = rows.load(queryset, "applied_run")
    assert [fields(m) for m in loaded] == [fields(m) for m in expected]
    assert loaded[0].applied_run is None
    assert fields(loaded[1].applied_run) == fields(expected[1].applied_run)
    assert not loaded[1]._state.adding and loaded[1]._state.db == "default"
    [partial] = [m for m in rows.load(queryset, "applied_run", related_only=[]) if m.applied]
    assert partial.applied_run.pk == run.pk and "status" not in vars(partial.applied_run)
    assert partial.applied_run.status == run.status  # deferred: read on access
    [from_run] = rows.load(deployment.runs.all(), "migration")
    assert fields(from_run.migration) == fields(Migration.objects.get(version="1"))


def test_a_time_written_again_is_the_same_text_as_django_writes(deployment: Deployment) -> None:
    """One time object in several rows (a transition's moment is its row's, its event's
    and its history row's), a time without microseconds, and many more times than are
    remembered: each stored as Django's own conversion stores it."""
    utc = timezone.now()
    times = [utc, utc, utc.replace(microsecond=0), utc]
    times += [utc + dt.timedelta(microseconds=i) for i in range(1, 150)] + [utc]
    built = [
        rows.build(Event, time=t, action="t", message=f"m{i}", actor="a", data={})
        for i, t in enumerate(times)
    ]
    with dialect_for("default").bookkeeping_cursor() as cursor:
        rows.insert(cursor, "default", built, keys=False)
    stored = dict(Event.objects.filter(action="t").values_list("message", "time"))
    assert [stored[f"m{i}"] for i in range(len(times))] == times
    if connection.vendor == "sqlite":  # the text itself: ordering and lookups compare it
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT message, CAST(time AS TEXT) FROM migrator_event WHERE action = 't'"
            )
            texts = dict(cursor.fetchall())
        expected = [connection.ops.adapt_datetimefield_value(t) for t in times]
        assert [texts[f"m{i}"] for i in range(len(times))] == expected


@pytest.mark.parametrize("alias", ["default", "analytics"])
def test_checkpoints_round_trip_in_the_target(alias: str) -> None:
    target = Target(alias)
    ensure_table(target)
    points = Checkpoints(target, 7, 2, "forward")
    assert not points.step_finished and points.get("transform").position is None
    with target.atomic():
        points.write("transform", position=41, batches=3, done=300, finished=False)
        points.register_capture("migrator_cap_r7_s2_items", "items", ["qty"], 1)
    again = Checkpoints(target, 7, 2, "forward")
    assert again.get("transform").position == 41 and again.get("transform").done == 300
    assert again.captures() == {"migrator_cap_r7_s2_items": "items"}
    assert again.capture_for("items", ["qty"]) == ("migrator_cap_r7_s2_items", 1)
    assert again.capture_for("items", ["note"]) == (None, 1)
    again.finish_step(300)
    assert Checkpoints(target, 7, 2, "forward").step_finished
    assert not Checkpoints(target, 7, 2, "undo").step_finished


@pytest.mark.parametrize("alias", ["default", "analytics"])
def test_table_exists_answers_what_the_list_of_tables_answers(alias: str) -> None:
    """One name looked up in the catalog, with the meaning of Django's list of tables:
    tables of the search path, case as stored, never views, indexes or sequences."""
    target = Target(alias)
    quote = target.quote
    target.execute(f"CREATE TABLE {quote('Mixed_Case')} (id INTEGER PRIMARY KEY)")
    target.execute("CREATE TABLE plain_t (id INTEGER PRIMARY KEY, n INTEGER)")
    target.execute("CREATE INDEX plain_t_n ON plain_t (n)")
    target.execute("CREATE VIEW plain_v AS SELECT id FROM plain_t")
    partitioned = target.connection.vendor == "postgresql"
    if partitioned:  # Django lists the partitioned table, not its partitions
        target.execute("CREATE TABLE parted (id INTEGER) PARTITION BY RANGE (id)")
        target.execute("CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (9)")
    try:
        listed = set(target.dialect.table_names())
        names = ["Mixed_Case", "mixed_case", "plain_t", "PLAIN_T", "plain_v", "plain_t_n"]
        names += ["parted", "parted_1"]
        names += ["no_such_table", "sqlite_sequence", "pg_class", "it's"]
        for name in names:
            assert target.table_exists(name) is (name in listed), name
        assert target.table_exists("Mixed_Case") and target.table_exists("plain_t")
        assert not target.table_exists("plain_v") and not target.table_exists("plain_t_n")
        assert target.table_exists("parted") is partitioned
    finally:
        if partitioned:
            target.execute("DROP TABLE parted")
        target.execute("DROP VIEW plain_v")
        target.execute("DROP TABLE plain_t")
        target.execute(f"DROP TABLE {quote('Mixed_Case')}")


SCRIPT = (
    "-- header; with a semicolon\n"
    "CREATE TABLE a (x INTEGER);\n"
    "/* block; comment */ INSERT INTO a VALUES (1);\n"
    "INSERT INTO a VALUES (2) -- trailing; comment\n;\n"
    "SELECT ';' ;\n"
    "-- only a comment;\n"
)


@pytest.mark.parametrize("vendor", sorted(DIALECTS))
def test_each_dialect_splits_with_lines(vendor: str) -> None:
    statements = [(s.line, s.sql) for s in split_statements(vendor, SCRIPT)]
    assert [line for line, _ in statements] == [2, 3, 4, 6]
    assert statements[0][1] == "CREATE TABLE a (x INTEGER)"
    assert statements[1][1] == "INSERT INTO a VALUES (1)"
    assert statements[3][1] == "SELECT ';'"


def test_postgresql_splits_dollar_quotes_and_atomic_bodies() -> None:
    script = (
        "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
        "SELECT E'it''s; fine';"
    )
    statements = split_statements("postgresql", script)
    assert [s.line for s in statements] == [1, 2, 3]
    assert statements[1].sql.endswith("END")


@pytest.mark.parametrize(
    "script",
    [
        "CREATE TABLE a (id int);\nSELEC 1;\n",
        "SELEC 1;\nCREATE TABLE a (id int);",
        "SELECT 1; garbage here; SELECT 2;",
    ],
)
def test_postgresql_never_drops_a_statement_it_cannot_parse(script: str) -> None:
    """pglast's scanner leaves out what does not start like a statement; the server must
    see it (and report the syntax error) rather than the migration skipping it."""
    statements = [s.sql for s in split_statements("postgresql", script)]
    code = [part.strip() for part in script.split(";") if part.strip()]
    assert statements == code


def test_sqlite_splits_triggers_as_one_statement() -> None:
    script = (
        "CREATE TABLE t (x INTEGER);\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 1;\n  SELECT 1;\nEND;\n"
        "INSERT INTO t VALUES (1);"
    )
    statements = split_statements("sqlite", script)
    assert [s.line for s in statements] == [1, 2, 6]
    assert statements[1].sql.startswith("CREATE TRIGGER") and statements[1].sql.endswith("END")


def test_postgresql_knows_what_cannot_run_in_a_transaction() -> None:
    dialect = DIALECTS["postgresql"]
    needs = dialect.requires_autocommit
    assert needs(dialect, "create index concurrently i on t (x)")  # type: ignore[arg-type]
    assert needs(dialect, "VACUUM ANALYZE t")  # type: ignore[arg-type]
    assert needs(dialect, "REINDEX INDEX CONCURRENTLY i")  # type: ignore[arg-type]
    assert not needs(dialect, "CREATE INDEX i ON t (x)")  # type: ignore[arg-type]


def test_a_step_timeout_interrupts_a_long_statement() -> None:
    dialect = dialect_for("default")
    if connection.vendor == "sqlite":  # no statement_timeout: a progress handler interrupts
        query = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
            "SELECT count(*) FROM n"
        )
        expected = "interrupt"
    else:
        query, expected = "SELECT pg_sleep(5)", "statement timeout"
    with pytest.raises(Exception, match=expected), dialect.limits(timeout=0.2, lock_timeout=None):
        dialect.scalar(query)
    assert dialect.scalar("SELECT 1") == 1  # the limit is gone after the block


def test_faults_fire_on_the_nth_visit_only() -> None:
    with faults.armed("here", nth=2):
        faults.point("here")
        faults.point("elsewhere")
        with pytest.raises(faults.InjectedFault):
            faults.point("here")
        faults.point("here")
    faults.point("here")  # disarmed


def test_a_history_row_is_the_one_simple_history_writes() -> None:
    """A change's history row, built without the ORM, holds what simple-history's own
    row of the same save holds (every column but its key and time)."""
    migration = Migration.objects.create(
        database="default",
        version="001",
        name="m",
        source="m.sql",
        format="sql",
        checksum="v1:x",
        options={"timeout": 5},
        depends_on=["000"],
    )
    migration.name = "renamed"
    migration.save()
    theirs = Migration.history.filter(id=migration.pk).latest("history_id")
    built = rows.history_row(migration, reason=theirs.history_change_reason, user_id=None, kind="~")
    with dialect_for("default").bookkeeping_cursor() as cursor:
        rows.insert(cursor, "default", [built], keys=False)
    ours = Migration.history.filter(id=migration.pk).latest("history_id")
    assert ours.history_id != theirs.history_id

    def columns(row: object) -> dict[str, object]:
        values = {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}
        return {k: v for k, v in values.items() if k not in ("history_id", "history_date")}

    assert columns(ours) == columns(theirs)
    assert ours.history_date >= theirs.history_date
