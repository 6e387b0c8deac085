"""A commit group's records staged and written before it commits (``engine/behind.py``):
what is recorded is exactly what the database has, whatever stops a step, and a
statement that reads migrator's records in a group sees the group's. SQLite only: the
only database that groups commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from migrator import services
from migrator.engine import faults, rows
from migrator.engine.behind import Behind
from migrator.models import Event, Run, StepRun
from migrator.states import Status

from .test_grouping import _applied, _existing, _sql, _tables

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="commit groups: SQLite's"),
]


@pytest.fixture
def folder(settings: Any, catalog_dir: Path) -> Path:
    # One long group, and the schema captured at the end only (a capture after each run
    # reads migrator's records, so it writes the staged ones first).
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "GROUP_COMMIT_SECONDS": 60,
        "SCHEMA_CAPTURE_MAX_RUNS": 0,
    }
    return catalog_dir


def _recorded_as_it_is(count: int) -> None:
    """Each migration is recorded applied exactly when its table exists, its run and step
    run say the same, and nothing recorded is missing its history."""
    applied, existing = _applied(), _existing()
    for i in range(1, count + 1):
        assert (f"g{i}" in existing) == (f"{i:03d}" in applied), (i, applied)
    for run in Run.objects.filter(migration__version__in=applied, direction="forward"):
        if run.status == Status.SUCCEEDED:
            assert [s.status for s in run.step_runs.all()] == [Status.SUCCEEDED]
            assert run.history.filter(status=Status.SUCCEEDED).exists()  # type: ignore[attr-defined]


def test_a_migration_reading_migrators_records_sees_those_of_its_group(folder: Path) -> None:
    """Staged records are written before any statement that names their tables: a
    migration's own SQL counting the runs that succeeded counts the group's."""
    _tables(3, folder)
    _sql(
        folder,
        "004",
        "CREATE TABLE g4 (n INTEGER);\n"
        "INSERT INTO g4 SELECT COUNT(*) FROM migrator_run WHERE status = 'succeeded';",
        "DROP TABLE g4;",
    )
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.SUCCEEDED, deployment.error
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM g4")
        assert cursor.fetchone()[0] == 3
    assert not Event.objects.filter(action="group_rolled_back").exists()
    _recorded_as_it_is(4)


def test_a_migration_that_read_the_groups_records_and_failed_runs_the_group_again(
    folder: Path,
) -> None:
    """Written inside the failing migration's savepoint, the group's records were rolled
    back with it: the group is rolled back whole and run again one by one, not committed
    with migrations whose records are gone."""
    _tables(2, folder)
    _sql(
        folder,
        "003",
        "CREATE TABLE g3 (n INTEGER);\n"
        "INSERT INTO g3 SELECT COUNT(*) FROM migrator_run WHERE status = 'succeeded';\n"
        "INSERT INTO no_such_table VALUES (1);",
        "DROP TABLE g3;",
    )
    deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "003 step 1" in deployment.error and "no_such_table" in deployment.error
    assert _applied() == {"001", "002"}
    assert Event.objects.filter(deployment=deployment, action="group_rolled_back").exists()
    _recorded_as_it_is(3)


def test_a_step_failing_after_its_record_was_staged_leaves_no_record_of_success(
    folder: Path,
) -> None:
    """The step's savepoint is rolled back: what its record staged goes with it, the
    migrations before it in the group commit with theirs."""
    _tables(4, folder)
    with faults.armed("step_recorded", 3, action="raise"):
        deployment = services.apply("default", actor="t", backend="inline", auto_rollback=False)
    assert deployment.status == Status.FAILED
    assert "InjectedFault" in deployment.error
    assert _applied() == {"001", "002"}
    third = deployment.runs.get(order=3)
    assert third.status == Status.FAILED
    assert list(StepRun.objects.filter(run=third).values_list("status", flat=True)) == [
        Status.FAILED
    ]
    assert not Event.objects.filter(action="group_rolled_back").exists()
    _recorded_as_it_is(4)


def test_an_interrupt_after_a_steps_record_was_staged_commits_the_group_without_it(
    folder: Path,
) -> None:
    """Ctrl-C inside the third migration's transaction: the two before it commit with
    their records, the third is neither applied nor recorded."""
    _tables(4, folder)
    with faults.armed("step_recorded", 3, action="interrupt"):
        with pytest.raises(KeyboardInterrupt):
            services.apply("default", actor="t", backend="inline", auto_rollback=False)
    connection.close()
    assert _applied() == {"001", "002"}
    third = Run.objects.get(order=3)
    assert third.status != Status.SUCCEEDED
    assert not StepRun.objects.filter(run=third, status=Status.SUCCEEDED).exists()
    _recorded_as_it_is(4)


def test_the_records_of_a_group_are_those_of_migrations_committed_alone(
    folder: Path, settings: Any
) -> None:
    """Same migrations with and without groups: the same rows, events and history."""

    def story() -> list[Any]:
        deployment = services.apply("default", actor="t", backend="inline")
        assert deployment.status == Status.SUCCEEDED, deployment.error
        runs = [
            (r.migration.version, r.status, r.rows_done, [s.status for s in r.step_runs.all()])
            for r in deployment.runs.order_by("order")
        ]
        events = list(
            Event.objects.filter(deployment=deployment)
            .order_by("pk")
            .values_list("action", "message", "level")
        )
        history = sorted(
            (h.id, h.status, h.history_change_reason)
            for h in Run.history.filter(deployment_id=deployment.pk)  # type: ignore[attr-defined]
        )
        return [
            runs,
            [(a, m.replace(f"#{deployment.pk}", "#N"), lv) for a, m, lv in events],
            [(s, r.replace(f"#{deployment.pk}", "#N")) for _, s, r in history],
        ]

    _tables(6, folder)
    grouped = story()
    assert services.rollback("default", actor="t", backend="inline", count=6).status == (
        Status.SUCCEEDED
    )
    settings.MIGRATOR = {**settings.MIGRATOR, "GROUP_COMMIT_SECONDS": 0}
    alone = story()
    assert grouped == alone


def _event(message: str) -> Event:
    return rows.build(Event, action="test", message=message, actor="t", data={})


def test_rows_staged_in_a_savepoint_rolled_back_stay_forgotten_when_more_are_staged() -> None:
    """A step's savepoint rolled back takes back what it staged (the journal's memento
    truncates), even once rows staged afterwards in the group seal everything before
    them."""
    with transaction.atomic():
        behind = Behind("default")
        try:
            behind.insert([_event("before")], keys=False)
            mark = behind.mark()
            with pytest.raises(RuntimeError), transaction.atomic():
                behind.insert([_event("in the failed step")], keys=False)
                raise RuntimeError
            behind.truncate(mark)
            behind.insert([_event("after")], keys=False)
            behind.write()
        finally:
            behind.close()
    assert list(Event.objects.order_by("pk").values_list("message", flat=True)) == [
        "before",
        "after",
    ]


def test_staged_changes_of_one_row_end_as_the_last_one_made() -> None:
    """Inserts go in first, then each row's updates merged in the order they were made:
    the row ends as it would have with each change written at once."""
    with transaction.atomic():
        behind = Behind("default")
        try:
            event = _event("new")
            behind.insert([event], keys=True)
            event.message, event.level = "changed", "warning"
            behind.update(event, {"message", "level"})
            event.message = "changed again"
            behind.update(event, {"message"})
            other = _event("other")
            behind.insert([other], keys=True)
            behind.write()
        finally:
            behind.close()
    assert event.pk is not None and other.pk == event.pk + 1
    stored = Event.objects.get(pk=event.pk)
    assert (stored.message, stored.level) == ("changed again", "warning")
    assert Event.objects.get(pk=other.pk).message == "other"


def test_keys_handed_out_again_follow_the_staged_rows_not_yet_in_the_table() -> None:
    with transaction.atomic():
        behind = Behind("default")
        try:
            staged = [_event(f"e{i}") for i in range(600)]
            for start in range(0, 600, 200):  # the third needs keys reserved again
                behind.insert(staged[start : start + 200], keys=True)
            behind.write()
        finally:
            behind.close()
    keys = [event.pk for event in staged]
    assert len(set(keys)) == 600
    assert Event.objects.count() == 600
