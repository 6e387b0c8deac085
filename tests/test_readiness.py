"""``plan --readiness``: what the planned statements would trip over, counted on the live
data with example rows, on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from migrator import services

from .conftest import marker_sql, write
from .console.conftest import make_user  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])

SEED = """CREATE TABLE rd_parent (id INTEGER PRIMARY KEY);
CREATE TABLE rd_child (id INTEGER PRIMARY KEY, parent_id INTEGER, email TEXT, qty INTEGER);
INSERT INTO rd_parent (id) VALUES (1), (2), (3);
INSERT INTO rd_child (id, parent_id, email, qty) VALUES
  (1, 1, 'a', 1), (2, 2, 'a', NULL), (3, 9, 'b', 3), (4, 9, 'b', -1), (5, NULL, 'b', NULL),
  (6, 3, 'c', 5);"""

CHANGE = """ALTER TABLE rd_child ADD CONSTRAINT rd_email UNIQUE (email);
ALTER TABLE rd_child ALTER COLUMN qty SET NOT NULL;
ALTER TABLE rd_child ADD CONSTRAINT rd_fk FOREIGN KEY (parent_id) REFERENCES rd_parent (id);
ALTER TABLE rd_child ADD CONSTRAINT rd_pos CHECK (qty > 0);
ALTER TABLE rd_child ADD COLUMN req INTEGER NOT NULL;
CREATE TABLE rd_new (id INTEGER);
CREATE UNIQUE INDEX rd_new_id ON rd_new (id);"""


@pytest.fixture
def seeded(catalog_dir: Path) -> Path:
    write(
        catalog_dir, "001_seed.sql", marker_sql(SEED, "DROP TABLE rd_child;\nDROP TABLE rd_parent;")
    )
    write(catalog_dir, "002_change.sql", marker_sql(CHANGE, "SELECT 1;"))
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    yield catalog_dir
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rd_child")
        cursor.execute("DROP TABLE IF EXISTS rd_parent")


def test_counts_and_examples_of_what_would_fail(seeded: Path) -> None:
    checks = services.plan_readiness(services.plan("default"))
    found = {(c.check, c.table): c for c in checks if c.check != "long_transactions"}
    assert set(found) == {
        ("duplicates", "rd_child"),
        ("nulls", "rd_child"),
        ("orphans", "rd_child"),
        ("violations", "rd_child"),
        ("rows", "rd_child"),
    }, "nothing is checked on rd_new: the plan creates it"
    duplicates = found["duplicates", "rd_child"]
    assert duplicates.count == 2 and duplicates.examples == [["b", "3"], ["a", "2"]]
    assert duplicates.line == 3 and duplicates.version == "002"
    assert found["nulls", "rd_child"].count == 2
    assert sorted(row[0] for row in found["nulls", "rd_child"].examples) == ["2", "5"]
    orphans = found["orphans", "rd_child"]
    assert orphans.count == 2 and orphans.examples == [["9"], ["9"]]
    violations = found["violations", "rd_child"]
    assert violations.count == 1 and violations.examples[0][0] == "4"  # NULL passes a CHECK
    assert found["rows", "rd_child"].count == 6
    assert not any(c.ok for c in found.values())


def test_plan_readiness_on_the_command_line(cli: Any, seeded: Path) -> None:
    result = cli("plan", "--readiness")
    assert result.code == 1 and "5 readiness check(s)" in result.err
    assert "duplicate (email) groups" in result.out and "e.g. b, 3" in result.out
    data = json.loads(cli("plan", "--readiness", "--json").out)
    counts = {r["check"]: r["count"] for r in data["readiness"] if r["table"]}
    assert counts == {"duplicates": 2, "nulls": 2, "orphans": 2, "violations": 1, "rows": 6}
    # Fix the data: only the new NOT NULL column still needs a value for the row left.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM rd_child WHERE id <> 1")
    left = json.loads(cli("plan", "--readiness", "--json").out)["readiness"]
    assert [(r["check"], r["count"]) for r in left if not r["ok"]] == [("rows", 1)]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM rd_child")
    clean = cli("plan", "--readiness")
    assert clean.code == 0, clean.err


def test_the_console_checks_readiness_when_asked(
    client: Any,
    make_user: Any,  # noqa: F811 - the fixture imported above
    seeded: Path,
) -> None:
    from django.urls import reverse

    client.force_login(make_user("operator", "apply"))
    url = reverse("admin:migrator_console_apply", args=["default"])
    assert "Readiness on live data" not in client.get(url).content.decode()
    html = client.get(url + "?readiness=1").content.decode()
    box = html[html.index("Readiness on live data") :]
    assert "duplicate (email) groups" in box and "<div>b, 3</div>" in box
    assert "rows violating CHECK" in box
    estimate = html[html.index("<h3>Estimate</h3>") :]
    assert "Way back" in estimate and "Downtime" in estimate and "a rollback restores" in estimate


def test_a_check_that_cannot_be_counted_is_not_ok(cli: Any, catalog_dir: Path) -> None:
    """An expression the target cannot evaluate is reported, never passed as zero rows."""
    write(
        catalog_dir, "001_t.sql", marker_sql("CREATE TABLE rd_t (id INTEGER);", "DROP TABLE rd_t;")
    )
    write(
        catalog_dir,
        "002_check.sql",
        marker_sql("ALTER TABLE rd_t ADD CONSTRAINT rd_c CHECK (no_such_function(id) > 0);"),
    )
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    try:
        [check] = [c for c in services.plan_readiness(services.plan("default")) if c.table]
        assert check.check == "violations" and check.error and not check.ok
        assert cli("plan", "--readiness").code == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rd_t")


def test_estimate_of_duration_locks_downtime_way_back_and_disk(
    cli: Any, catalog_dir: Path, settings: Any
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "LINT_SMALL_TABLE_ROWS": 10}
    seed = (
        "CREATE TABLE est_t (id INTEGER PRIMARY KEY, a INTEGER);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)\n"
        "INSERT INTO est_t (id, a) SELECT i, i FROM n;"
    )
    write(catalog_dir, "001_seed.sql", marker_sql(seed, "DROP TABLE est_t;"))
    write(
        catalog_dir,
        "002_bump.sql",
        marker_sql("UPDATE est_t SET a = a + 1;", "UPDATE est_t SET a = a - 1;"),
    )
    write(
        catalog_dir,
        "003_index.sql",
        marker_sql("CREATE INDEX est_a ON est_t (a);", "DROP INDEX est_a;"),
    )
    write(catalog_dir, "004_trim.sql", marker_sql("DELETE FROM est_t WHERE id > 45;", ""))
    try:
        assert (
            services.apply("default", actor="t", to="002", backend="inline").status == "succeeded"
        )
        rollback = services.rollback("default", actor="t", to="001", backend="inline")
        assert rollback.status == "succeeded"

        cost = services.estimate(services.plan("default"))
        runs = {run["version"]: run for run in cost.runs}
        assert runs["002"]["basis"] == "its last run here" and runs["002"]["seconds"] is not None
        assert runs["003"]["seconds"] is not None, "measured from earlier runs of its kind"
        assert cost.seconds is not None and cost.estimated_runs >= 2
        # 004 has no down part: a backup of what it touches is its way back.
        assert cost.not_exact == ["004"] and cost.reversibility == "by backup"
        assert runs["004"]["restore_rows"] == 50 and cost.rollback_rows == 50
        if connection.vendor == "postgresql":
            locks = {(lock["table"], lock["lock"]) for lock in runs["003"]["locks"]}
            assert locks == {("est_t", "SHARE")}
            assert runs["002"]["locks"][0]["lock"] == "ROW EXCLUSIVE"
            # SHARE blocks writes, on a table above LINT_SMALL_TABLE_ROWS: downtime in effect.
            assert cost.downtime == ["003 holds SHARE on est_t (50 rows): blocks writes"]
            assert cost.rollback_bytes and cost.rollback_bytes > 0
        else:
            assert cost.locks == [] and cost.downtime == []
            assert cost.disk_free_bytes and cost.disk_ok is True

        data = json.loads(cli("plan", "--readiness", "--json").out)
        assert data["estimate"]["reversibility"] == "by backup"
        assert data["estimate"]["rollback_rows"] == 50
        text = cli("plan", "--readiness").out
        assert (
            "way back: by backup (not exact: 004)" in text and "rollback restores: 50 rows" in text
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS est_t")


def test_values_a_narrowing_type_change_would_break(catalog_dir: Path) -> None:
    seed = (
        "CREATE TABLE nr_t (id INTEGER PRIMARY KEY, code VARCHAR(20), n INTEGER, p NUMERIC(8, 2),\n"
        "  q NUMERIC(8, 3));\n"
        "INSERT INTO nr_t VALUES (1, 'ab', 5, 12.5, 99.994), (2, 'abcd', 40000, 100.25, 1),\n"
        "  (3, 'abcdef', -40000, NULL, NULL), (4, NULL, NULL, 99.99, 99.995);"
    )
    write(catalog_dir, "001_seed.sql", marker_sql(seed, "DROP TABLE nr_t;"))
    narrow = (
        "ALTER TABLE nr_t ALTER COLUMN code TYPE varchar(3), ALTER COLUMN n TYPE smallint,\n"
        "  ALTER COLUMN p TYPE numeric(4, 2), ALTER COLUMN q TYPE numeric(4, 2);\n"
        "ALTER TABLE nr_t ALTER COLUMN id TYPE smallint USING id % 100;"
    )
    write(catalog_dir, "002_narrow.sql", marker_sql(narrow, "SELECT 1;"))
    try:
        assert services.apply("default", actor="t", to="001", backend="inline").status == (
            "succeeded"
        )
        checks = services.plan_readiness(services.plan("default"))
        found = {c.what.split()[2]: c for c in checks if c.check == "narrowing"}
        assert set(found) == {"code", "n", "p", "q"}, "a USING clause computes what fits: unknown"
        assert (found["code"].count, found["n"].count, found["p"].count) == (2, 2, 1)
        # Rounded to the new scale, 99.995 is 100.00: too big; 99.994 fits.
        assert found["q"].count == 1 and found["q"].examples[0][0] == "4"
        assert "varchar(3)" in found["code"].what and len(found["code"].examples) == 2
        assert found["p"].examples[0][0] == "2"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS nr_t")
