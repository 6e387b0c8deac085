"""``migrator lint``: every check fires on a migration that breaks its rule and stays quiet
on the safe way to do the same; formats, exit codes and ignore comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrator import services
from migrator.schema.lint import CHECKS

from .conftest import marker_sql, write

ROOT = Path(__file__).resolve().parent.parent

#: check id -> (SQL that breaks the rule, SQL that does the same safely). ``old`` is a table
#: the migration did not create (it exists already); ``SET lock_timeout`` keeps S139 quiet.
LOCK = "SET lock_timeout = '5s';\n"
CASES: dict[str, tuple[str, str]] = {
    "S101": ("DROP TABLE old;", "CREATE TABLE tmp (id bigint);\nDROP TABLE tmp;"),
    "S102": (LOCK + "ALTER TABLE old DROP COLUMN note;", LOCK + "ALTER TABLE old ADD note2 text;"),
    "S103": ("DROP SCHEMA legacy;", "CREATE SCHEMA legacy;"),
    "S104": ("TRUNCATE old CASCADE;", "TRUNCATE old;"),
    "S111": (LOCK + "ALTER TABLE old RENAME TO older;", "CREATE VIEW older AS SELECT * FROM old;"),
    "S112": (
        LOCK + "ALTER TABLE old RENAME COLUMN a TO b;",
        LOCK + "ALTER TABLE old ADD COLUMN b text;",
    ),
    "S113": (
        LOCK + "ALTER TABLE old ALTER COLUMN a TYPE bigint;",
        LOCK + "ALTER TABLE old ADD x bigint;",
    ),
    "S114": (
        LOCK + "ALTER TABLE old ALTER COLUMN a SET NOT NULL;",
        LOCK + "ALTER TABLE old ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;",
    ),
    "S115": (
        LOCK + "ALTER TABLE old ADD COLUMN c bigint NOT NULL;",
        LOCK + "ALTER TABLE old ADD COLUMN c bigint NOT NULL DEFAULT 0;",
    ),
    "S116": ("ALTER TABLE old SET SCHEMA archive;", "CREATE SCHEMA archive;"),
    "S117": ("DROP VIEW report;", "CREATE OR REPLACE VIEW report AS SELECT 1 AS one;"),
    "S118": ("REVOKE SELECT ON old FROM app;", "GRANT SELECT ON old TO app;"),
    "S119": ("ALTER TYPE mood ADD VALUE 'calm';", "CREATE TYPE mood2 AS ENUM ('calm');"),
    "S120": (
        LOCK + "ALTER TABLE old DROP CONSTRAINT old_a_fkey;",
        LOCK + "ALTER TABLE old ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;",
    ),
    "S121": (
        LOCK + "ALTER TABLE old ALTER COLUMN a DROP DEFAULT;",
        LOCK + "ALTER TABLE old ADD COLUMN b integer DEFAULT 0;",
    ),
    "S122": (
        "CREATE OR REPLACE VIEW report AS SELECT 1 AS one;",
        "CREATE VIEW report_v2 AS SELECT 1 AS one;",
    ),
    "S123": ("ALTER SEQUENCE old_id_seq RESTART WITH 1;", "CREATE SEQUENCE other_seq;"),
    "S123 identity": (
        LOCK + "ALTER TABLE old ALTER COLUMN id SET GENERATED ALWAYS;",
        LOCK + "ALTER TABLE old ADD COLUMN n text;",
    ),
    "S124": (
        LOCK + "ALTER TABLE old ENABLE ROW LEVEL SECURITY;",
        "CREATE POLICY readers ON old FOR SELECT USING (true);",
    ),
    "S124 restrictive": (
        "CREATE POLICY only_mine ON old AS RESTRICTIVE USING (owner = current_user);",
        "CREATE POLICY mine ON old USING (owner = current_user);",
    ),
    "S124 drop": ("DROP POLICY readers ON old;", "SELECT 1;"),
    "S131": ("CREATE INDEX old_a ON old (a);", "CREATE INDEX CONCURRENTLY old_a ON old (a);"),
    "S132": ("DROP INDEX old_a;", "DROP INDEX CONCURRENTLY old_a;"),
    "S133": ("REINDEX TABLE old;", "REINDEX TABLE CONCURRENTLY old;"),
    "S134": (
        LOCK + "ALTER TABLE old ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id);",
        LOCK + "ALTER TABLE old ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id) NOT VALID;",
    ),
    "S135": (
        LOCK + "ALTER TABLE old ADD CONSTRAINT pos CHECK (a > 0);",
        LOCK + "ALTER TABLE old ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;",
    ),
    "S136": (
        LOCK + "ALTER TABLE old ADD CONSTRAINT uq UNIQUE (a);",
        LOCK + "ALTER TABLE old ADD CONSTRAINT uq UNIQUE USING INDEX old_a_uq;",
    ),
    "S137": (
        LOCK + "ALTER TABLE old ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        LOCK + "ALTER TABLE old ADD COLUMN flag boolean DEFAULT false;",
    ),
    "S138": ("VACUUM FULL old;", "VACUUM old;"),
    "S139": ("ALTER TABLE old ADD COLUMN n text;", LOCK + "ALTER TABLE old ADD COLUMN n text;"),
    "S139 index": (
        "CREATE INDEX CONCURRENTLY i ON old (a);",
        LOCK + "CREATE INDEX CONCURRENTLY i ON old (a);",
    ),
    "S139 references": (
        "CREATE TABLE child (id bigint, old_id bigint REFERENCES old (id));",
        "CREATE TABLE child (id bigint, old_id bigint);",
    ),
    "S140": ("UPDATE old SET a = 0;", "UPDATE old SET a = 0 WHERE id < 1000;"),
    "S151": ("CREATE TABLE t (id integer PRIMARY KEY);", "CREATE TABLE t (id bigint PRIMARY KEY);"),
    "S152": (
        "CREATE TABLE t (id bigint, at timestamp);",
        "CREATE TABLE t (id bigint, at timestamptz);",
    ),
    "S153": ("CREATE TABLE t (id bigint, n varchar(20));", "CREATE TABLE t (id bigint, n text);"),
    "S154": ("CREATE TABLE t (id bigint, j json);", "CREATE TABLE t (id bigint, j jsonb);"),
    "M162": ("SELEC 1;", "SELECT 1;"),
}


def _lint(folder: Path, sql: str, down: str = "SELECT 1;", vendor: str = "postgresql") -> set[str]:
    for old in folder.glob("*.sql"):
        old.unlink()
    write(folder, "001_change.sql", marker_sql(sql, down))
    report = services.lint(path=folder, vendor=vendor)
    return {f.check.id for f in report.findings if f.suppressed is None}


def test_every_check_has_a_case() -> None:
    statement_checks = {key for key in CHECKS if key not in ("M161", "M163", "D201")}
    assert statement_checks == {case.split()[0] for case in CASES}


@pytest.mark.parametrize("check", sorted(CASES))
def test_check_fires_on_the_risky_form_only(tmp_path: Path, check: str) -> None:
    risky, safe = CASES[check]
    check_id = check.split()[0]
    assert check_id in _lint(tmp_path, risky), risky
    assert check_id not in _lint(tmp_path, safe), safe


def test_no_way_back_is_the_migration_not_a_statement(tmp_path: Path) -> None:
    assert "M161" in _lint(tmp_path, "CREATE TABLE t (id bigint);", down="")
    assert "M161" not in _lint(tmp_path, "CREATE TABLE t (id bigint);", down="DROP TABLE t;")


def test_postgresql_only_checks_are_quiet_on_sqlite(tmp_path: Path) -> None:
    assert _lint(tmp_path, "CREATE INDEX old_a ON old (a);", vendor="sqlite") == set()
    assert "S101" in _lint(tmp_path, "DROP TABLE old;", vendor="sqlite")


def test_findings_name_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "001_change.sql", marker_sql("SELECT 1;\n\nDROP TABLE old;", "SELECT 1;"))
    [finding] = services.lint(path=tmp_path, vendor="postgresql").findings
    assert finding.file.endswith("001_change.sql") and finding.line == 5
    assert finding.statement == "DROP TABLE old" and finding.check.squawk == "ban-drop-table"


def test_an_ignore_comment_with_a_reason_accepts_a_finding(tmp_path: Path) -> None:
    sql = "-- migrator:ignore S101 replaced by the archive table in 1.4\nDROP TABLE old;"
    write(tmp_path, "001_change.sql", marker_sql(sql, "SELECT 1;"))
    report = services.lint(path=tmp_path, vendor="postgresql")
    [finding] = report.findings
    assert finding.suppressed == "replaced by the archive table in 1.4"
    assert report.blocking == []
    write(tmp_path, "001_change.sql", marker_sql("-- migrator:ignore S101\nDROP TABLE old;"))
    assert services.lint(path=tmp_path, vendor="postgresql").blocking, "a reason is required"


def test_an_ignore_comment_counts_anywhere_in_the_source_file_not_in_its_down(
    tmp_path: Path,
) -> None:
    header = "-- migrator:ignore S101 the archive replaces it\n"
    write(tmp_path, "001_change.sql", header + marker_sql("DROP TABLE old;", "SELECT 1;"))
    write(
        tmp_path, "002_gone.up.sql", "-- migrator:ignore S101 moved to cold storage\nDROP TABLE t;"
    )
    write(tmp_path, "002_gone.down.sql", "CREATE TABLE t (id bigint);")
    write(tmp_path, "003_more.up.sql", "DROP TABLE u;")
    write(
        tmp_path, "003_more.down.sql", "-- migrator:ignore S101 not here\nCREATE TABLE u (id int);"
    )
    findings = {f.version: f for f in services.lint(path=tmp_path, vendor="postgresql").findings}
    assert findings["001"].suppressed == "the archive replaces it"
    assert findings["002"].suppressed == "moved to cold storage"
    assert not findings["003"].suppressed, "a comment in the down file accepts nothing"


def test_cli_formats_and_exit_codes(cli: Any, tmp_path: Path) -> None:
    write(tmp_path, "001_ok.sql", marker_sql("CREATE TABLE t (id bigint);", "DROP TABLE t;"))
    clean = cli("lint", str(tmp_path))
    assert clean.code == 0 and "1 migrations checked: clean" in clean.out

    write(tmp_path, "002_risky.sql", marker_sql("CREATE INDEX t_id ON t (id);", "DROP INDEX t_id;"))
    warned = cli("lint", str(tmp_path), "--format", "github")
    assert warned.code == 0  # warnings do not block by default (LINT_BLOCKING: error)
    assert warned.out.startswith("::warning file=") and ",line=3,title=S131" in warned.out

    write(tmp_path, "003_drop.sql", marker_sql("DROP TABLE old;", "SELECT 1;"))
    blocked = cli("lint", str(tmp_path), "--format", "json")
    assert blocked.code == 1 and "1 blocking finding" in blocked.err
    data = json.loads(blocked.out)
    assert data["counts"] == {"error": 1, "warning": 2} and data["migrations"] == 3
    assert {f["id"] for f in data["findings"]} == {"S131", "S139", "S101"}
    first = data["findings"][0]
    assert set(first) >= {"id", "severity", "file", "line", "statement", "squawk"}

    assert cli("lint", str(tmp_path / "nowhere")).code == 2
    assert cli("lint", str(tmp_path), "--dialect", "oracle").code == 2

    listed = json.loads(cli("lint", "--list-checks", "--json").out)["checks"]
    assert [c["id"] for c in listed] == sorted(CHECKS)


def test_a_broken_folder_exits_2_naming_the_file(cli: Any, tmp_path: Path) -> None:
    write(tmp_path, "001_a.sql", marker_sql("SELECT 1;"))
    write(tmp_path, "001_b.sql", marker_sql("SELECT 2;"))
    result = cli("lint", str(tmp_path))
    assert result.code == 2 and "001_a.sql" in result.err and "001_b.sql" in result.err


def test_the_docs_list_every_check() -> None:
    docs = (ROOT / "docs" / "compatibility.md").read_text()
    for key, check in CHECKS.items():
        assert f"`{key}`" in docs and check.name in docs, key


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_pending_lints_only_what_apply_would_run(cli: Any, catalog_dir: Path) -> None:
    from django.db import connection

    write(
        catalog_dir,
        "001_t.sql",
        marker_sql("CREATE TABLE lint_t (id bigint);", "DROP TABLE lint_t;"),
    )
    write(catalog_dir, "002_drop.sql", marker_sql("DROP TABLE lint_t;", "SELECT 1;"))
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    try:
        write(catalog_dir, "000_old.sql", marker_sql("DROP TABLE gone;", "SELECT 1;"))
        everything = json.loads(cli("lint", "--database", "default", "--json").out)
        pending = json.loads(cli("lint", "--database", "default", "--pending", "--json").out)
        assert {f["version"] for f in everything["findings"]} == {"000", "002"}
        # 000 is pending too (out of order), 001 is applied and clean.
        assert {f["version"] for f in pending["findings"]} == {"000", "002"}
        assert pending["migrations"] == 2 and everything["migrations"] == 3
        # The target's own dialect: S101 applies on both, S131 only on PostgreSQL; 000 is
        # also out of order (M163).
        ids = {(f["version"], f["id"]) for f in pending["findings"]}
        assert ids == {("000", "S101"), ("000", "M163"), ("002", "S101")}
        assert cli("lint", "--database", "nowhere").code == 2
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS lint_t")


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_the_gate_refuses_blocking_findings_unless_overridden(
    cli: Any, catalog_dir: Path, settings: Any
) -> None:
    from migrator.exceptions import OperationFailed
    from migrator.models import Deployment, Event

    settings.MIGRATOR = {**settings.MIGRATOR, "LINT_GATE": True}
    write(catalog_dir, "001_t.sql", marker_sql("CREATE TABLE gate_t (id bigint);", "SELECT 1;"))
    write(catalog_dir, "002_drop.sql", marker_sql("DROP TABLE gate_t;", "SELECT 1;"))
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"

    with pytest.raises(OperationFailed, match=r"S101 drop-table in 002 \(.*002_drop.sql:3\)"):
        services.apply("default", actor="t", backend="inline")
    refused = cli("apply", "--yes")
    assert refused.code == 1 and "lint blocks this apply" in refused.err
    assert Deployment.objects.count() == 1, "nothing was created"
    # A dry run is never gated: it is how one looks before deciding.
    assert services.apply("default", actor="t", dry_run=True, backend="inline").dry_run

    done = cli("apply", "--yes", "--override-lint", "gate_t was never used")
    assert done.code == 0, done.err
    deployment = Deployment.objects.filter(dry_run=False).latest("pk")
    assert deployment.options["lint_override"] == {
        "reason": "gate_t was never used",
        "findings": ["S101 002"],
    }
    event = Event.objects.get(action="lint_overridden")
    assert event.deployment == deployment and "gate_t was never used" in event.message
    # Written with the deployment itself, before it was queued (never after it ran).
    first_status = Event.objects.filter(deployment=deployment, action="status").earliest("pk")
    assert event.pk < first_status.pk


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_findings_accepted_by_a_comment_are_recorded_when_applied(catalog_dir: Path) -> None:
    from django.db import connection

    from migrator.models import Event

    sql = "-- migrator:ignore S101 superseded by acc_new\nDROP TABLE acc_old;"
    write(catalog_dir, "001_old.sql", marker_sql("CREATE TABLE acc_old (id bigint);", "SELECT 1;"))
    write(catalog_dir, "002_drop.sql", marker_sql(sql, "SELECT 1;"))
    try:
        assert (
            services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
        )
        deployment = services.apply("default", actor="alice", backend="inline")
        assert deployment.status == "succeeded"
        event = Event.objects.get(action="lint_suppressed")
        assert event.deployment == deployment and event.actor == "alice"
        assert "S101 in 002 (superseded by acc_new)" in event.message
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS acc_old")


def test_goose_statement_blocks_keep_file_lines(tmp_path: Path) -> None:
    """Annotations inside a section (StatementBegin/End) do not shift the lines that
    findings (and the engine's errors) name."""
    write(
        tmp_path,
        "00018_settings.sql",
        "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE settings (\n"
        "    id uuid PRIMARY KEY,\n    created_at TIMESTAMP NOT NULL DEFAULT now()\n);\n"
        "-- +goose StatementEnd\n-- +goose StatementBegin\nDROP TABLE old;\n"
        "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE settings;\n",
    )
    findings = services.lint(path=tmp_path, vendor="postgresql").findings
    assert {(f.check.id, f.line) for f in findings} == {("S152", 3), ("S101", 9)}


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_a_schema_changed_outside_migrator_is_drift(cli: Any, catalog_dir: Path) -> None:
    from django.db import connection

    write(
        catalog_dir,
        "001_t.sql",
        marker_sql("CREATE TABLE drift_t (id bigint);", "DROP TABLE drift_t;"),
    )
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"
    try:
        assert "D201" not in {f.check.id for f in services.lint(database="default").findings}
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE drift_by_hand (id bigint)")
        report = json.loads(cli("lint", "--database", "default", "--json").out)
        [drift] = [f for f in report["findings"] if f["id"] == "D201"]
        assert "table_added drift_by_hand" in drift["message"] and drift["severity"] == "error"
        assert cli("lint", "--database", "default").code == 1  # errors block by default
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS drift_by_hand")
            cursor.execute("DROP TABLE IF EXISTS drift_t")


@pytest.mark.parametrize(
    ("sql", "table", "lock"),
    [
        ("CREATE INDEX old_a ON old (a);", "old", "SHARE"),
        ("CREATE INDEX CONCURRENTLY old_a ON old (a);", "old", "SHARE UPDATE EXCLUSIVE"),
        ("ALTER TABLE old DROP COLUMN note;", "old", "ACCESS EXCLUSIVE"),
        (
            "ALTER TABLE old ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id);",
            "old",
            "SHARE ROW EXCLUSIVE",
        ),
        ("ALTER TABLE old VALIDATE CONSTRAINT fk;", "old", "SHARE UPDATE EXCLUSIVE"),
        ("UPDATE old SET a = 0;", "old", "ROW EXCLUSIVE"),
        ("VACUUM FULL old;", "old", "ACCESS EXCLUSIVE"),
    ],
)
def test_lock_findings_name_the_lock_the_statement_takes(
    tmp_path: Path, sql: str, table: str, lock: str
) -> None:
    write(tmp_path, "001_change.sql", marker_sql(sql, "SELECT 1;"))
    findings = services.lint(path=tmp_path, vendor="postgresql").findings
    assert findings and {(f.table, f.lock) for f in findings if f.lock} == {(table, lock)}
    shown = findings[0].as_dict()
    assert shown["lock"] == lock and shown["blocks"] and shown["table_rows"] is None
    # Without a database nothing is known of the table's size.
    assert f"on {table}: blocks" in findings[0].lock_text()
    # SQLite has no such table locks (a write transaction locks the database).
    write(tmp_path, "001_change.sql", marker_sql(sql.replace(" CONCURRENTLY", ""), "SELECT 1;"))
    on_sqlite = services.lint(path=tmp_path, vendor="sqlite").findings
    assert all(f.lock is None for f in on_sqlite)
    if lock == "ROW EXCLUSIVE":
        assert on_sqlite, "S140 applies on SQLite too: the finding is there, without a lock"


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_lock_risks_use_the_targets_real_table_sizes(
    cli: Any, catalog_dir: Path, settings: Any
) -> None:
    from django.db import connection

    settings.MIGRATOR = {**settings.MIGRATOR, "LINT_SMALL_TABLE_ROWS": 100}
    with connection.cursor() as cursor:
        for name, rows in (("lint_small", 5), ("lint_big", 150)):
            cursor.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, a integer)")
            for i in range(rows):
                cursor.execute(f"INSERT INTO {name} VALUES (%s, %s)", [i, i])
    try:
        write(
            catalog_dir,
            "001_update.sql",
            marker_sql("UPDATE lint_small SET a = 0;\nUPDATE lint_big SET a = 0;", "SELECT 1;"),
        )
        out = cli("lint", "--database", "default", "--pending", "--json")
        findings = {f["table"]: f for f in json.loads(out.out)["findings"] if f["id"] == "S140"}
        small, big = findings["lint_small"], findings["lint_big"]
        assert (small["table_rows"], big["table_rows"]) == (5, 150)
        assert small["severity"] == "info" and "fewer than LINT_SMALL_TABLE_ROWS" in (
            small["downgraded"] or ""
        )
        assert big["severity"] == "warning" and big["downgraded"] is None
        if connection.vendor == "postgresql":
            assert big["lock"] == "ROW EXCLUSIVE" and big["table_bytes"] > 0
        text = cli("lint", "--database", "default", "--pending").out
        assert "warning counted as info: lint_small has 5 rows" in text
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS lint_small")
            cursor.execute("DROP TABLE IF EXISTS lint_big")
