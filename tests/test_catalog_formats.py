"""Every file format is read into the same kind of migration, in natural version order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection

from migrator.catalog import checksum as checksums
from migrator.catalog import load_catalog
from migrator.catalog.formats.base import UnendedTransaction, own_transactions
from migrator.catalog.versions import key_of
from migrator.engine.kinds import WayBack

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


def only(catalog_dir: Path):
    return load_catalog().for_database("default")


def test_marker_sql_file_with_headers(catalog_dir: Path) -> None:
    write(
        catalog_dir,
        "001_create_users.sql",
        "-- Migration: 001_create_users\n-- Description: Create users\n-- Author: Dev Team\n"
        "-- Date: 2025-10-27\n-- Release: 1.0\n\n-- === UP MIGRATION ===\n"
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n\n-- === DOWN MIGRATION ===\n"
        "DROP TABLE users;\n",
    )
    [spec] = only(catalog_dir)
    assert (spec.version, spec.name, spec.format) == ("001", "create_users", "sql")
    assert (spec.description, spec.author, spec.date, spec.release) == (
        "Create users",
        "Dev Team",
        "2025-10-27",
        "1.0",
    )
    [step] = spec.steps
    assert step.kind == "sql"
    assert step.forward.strip() == "CREATE TABLE users (id INTEGER PRIMARY KEY);"
    assert step.backward.strip() == "DROP TABLE users;"
    assert spec.reversible and spec.effective_kind == "schema"


def test_paired_folder_dbmate_goose_flyway(catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.up.sql", "CREATE TABLE a (id INT);")
    write(catalog_dir, "1_a.down.sql", "DROP TABLE a;")
    write(catalog_dir, "2_b/up.sql", "CREATE TABLE b (id INT);")
    write(
        catalog_dir,
        "3_c.sql",
        "-- migrate:up transaction:false\nCREATE INDEX c ON a (id);\n-- migrate:down\nDROP INDEX c;\n",
    )
    write(
        catalog_dir,
        "4_d.sql",
        "-- +goose Up\n-- +goose NO TRANSACTION\n-- +goose StatementBegin\nSELECT 1;\n"
        "-- +goose StatementEnd\n-- +goose Down\nSELECT 2;\n",
    )
    write(catalog_dir, "V5__add_e_table.sql", "CREATE TABLE e (id INT);")
    write(catalog_dir, "U5__add_e_table.sql", "DROP TABLE e;")
    specs = only(catalog_dir)
    assert [(s.version, s.format) for s in specs] == [
        ("1", "paired"),
        ("2", "folder"),
        ("3", "dbmate"),
        ("4", "goose"),
        ("5", "flyway"),
    ]
    paired, folder, dbmate, goose, flyway = specs
    assert paired.steps[0].backward.strip() == "DROP TABLE a;"
    assert not folder.reversible  # no down.sql
    # dbmate reads transaction:false per section: only the up part runs outside one.
    assert dbmate.steps[0].options == {"transaction": False, "backward_transaction": True}
    assert not goose.transactional
    assert "StatementBegin" not in goose.steps[0].forward
    assert goose.steps[0].backward.strip() == "SELECT 2;"
    assert flyway.description == "add e table"
    assert flyway.steps[0].backward.strip() == "DROP TABLE e;"
    assert [s.depends_on for s in specs] == [[], ["1"], ["2"], ["3"], ["4"]]


def test_flyway_underscores_are_dots(catalog_dir: Path) -> None:
    write(catalog_dir, "V1_10__later.sql", "SELECT 1;")
    write(catalog_dir, "V1_9__earlier.sql", "SELECT 1;")
    assert [s.version for s in only(catalog_dir)] == ["1.9", "1.10"]


def test_python_module_with_typed_steps(catalog_dir: Path) -> None:
    write(
        catalog_dir,
        "0007_memory.py",
        "from migrator import dsl\n\n"
        "def fwd(ctx):\n    pass\n\n"
        "class Migration(dsl.Migration):\n"
        "    description = 'rename'\n"
        "    kind = 'hybrid'\n"
        "    depends_on = []\n"
        "    steps = [\n"
        "        dsl.RunSQL('CREATE TABLE t (id INT)', backward='DROP TABLE t'),\n"
        "        dsl.RunPython(fwd),\n"
        "        dsl.Transform(table='t', set={'v': {'sqlite': 'v + 1', 'postgresql': 'v + 2'}},\n"
        "                      batch_size=50),\n"
        "        dsl.Validate('SELECT 1 WHERE 1 = 0', name='nothing'),\n"
        "    ]\n",
    )
    [spec] = only(catalog_dir)
    assert [s.kind for s in spec.steps] == ["sql", "python", "transform", "validate"]
    assert spec.kind == "hybrid"
    # The python step has no backward: it is taken back by what it ctx.capture()s.
    assert spec.steps[1].way_back == WayBack.CAPTURED
    transform = json.loads(spec.steps[2].forward)
    from django.db import connection

    expected = "v + 1" if connection.vendor == "sqlite" else "v + 2"
    assert transform == {
        "table": "t",
        "key": "id",
        "set": {"v": expected},
        "where": "",
        "batch_size": 50,
    }
    assert spec.steps[1].forward == "0007_memory.py:fwd"
    assert spec.steps[3].name == "nothing"


def test_natural_version_order(catalog_dir: Path) -> None:
    for version in ["1.10.0", "1.9.0", "1.2", "2"]:
        write(catalog_dir, f"{version}_m.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    assert [s.version for s in only(catalog_dir)] == ["1.2", "1.9.0", "1.10.0", "2"]


def test_timestamp_versions(catalog_dir: Path) -> None:
    write(catalog_dir, "20240102000000_b.sql", marker_sql("SELECT 1;"))
    write(catalog_dir, "20231231235959_a.sql", marker_sql("SELECT 1;"))
    assert [s.name for s in only(catalog_dir)] == ["a", "b"]


def test_a_counter_after_a_date_is_not_a_time(catalog_dir: Path) -> None:
    """Flyway's ``V20190226_1__`` / ``_2__`` / ``_10__`` are three versions in that order;
    a time after a date (``2019-02-26-002946``) is the same instant however written."""
    for flyway in ("20190226_10", "20190226_2", "20190226_1", "20190227"):
        write(catalog_dir, f"V{flyway}__m.sql", "SELECT 1;\n")
    assert [s.version for s in only(catalog_dir)] == [
        "20190226.1",
        "20190226.2",
        "20190226.10",
        "20190227",
    ]
    assert key_of("2019-02-26-002946") == key_of("20190226002946")
    assert key_of("2019.02.26.0930") == key_of("201902260930")
    assert key_of("20190226.1") < key_of("20190226002946") < key_of("20190227")


def test_explicit_depends_on_header(catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.sql", marker_sql("SELECT 1;"))
    write(catalog_dir, "2_b.sql", marker_sql("SELECT 1;"))
    write(catalog_dir, "3_c.sql", "-- Depends-On: 1\n" + marker_sql("SELECT 1;"))
    assert [s.depends_on for s in only(catalog_dir)] == [[], ["1"], ["1"]]


def test_missing_down_is_a_warning_not_an_error(catalog_dir: Path) -> None:
    write(catalog_dir, "1_a.sql", "-- === UP MIGRATION ===\nSELECT 1;\n")
    catalog = load_catalog()
    [spec] = catalog.for_database("default")
    assert not spec.reversible
    assert [w.message for w in catalog.warnings] == ["irreversible: it has no down part"]


def test_checksum_ignores_bom_and_line_endings(catalog_dir: Path) -> None:
    text = marker_sql("CREATE TABLE t (id INT);", "DROP TABLE t;")
    path = catalog_dir / "1_a.sql"
    path.write_bytes(text.encode())
    lf = only(catalog_dir)[0].checksum
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert only(catalog_dir)[0].checksum == lf
    path.write_bytes(text.replace("INT", "BIGINT").encode())
    assert only(catalog_dir)[0].checksum != lf
    assert lf.startswith("v1:")


def test_checksum_is_versioned_and_stable() -> None:
    parts = [("main", b"SELECT 1;\n")]
    assert checksums.matches(checksums.compute(parts), parts)
    assert not checksums.matches("v0:abc", parts)
    import hashlib

    # A fixed vector: if this changes, every user's stored checksum would become drift.
    expected = hashlib.sha256(b"main\x0010\x00SELECT 1;\n").hexdigest()
    assert checksums.compute(parts) == f"v1:{expected}"


def test_other_files_are_ignored(catalog_dir: Path) -> None:
    write(catalog_dir, "README.md", "notes")
    write(catalog_dir, "1_a.sql", marker_sql("SELECT 1;"))
    assert len(only(catalog_dir)) == 1


def test_database_alias_of_a_dirs_entry(settings, tmp_path: Path) -> None:
    folder = tmp_path / "analytics"
    write(folder, "1_a.sql", marker_sql("SELECT 1;"))
    settings.MIGRATOR = {
        "APP_DIRNAME": "none",
        "DIRS": [{"path": str(folder), "database": "analytics"}],
    }
    catalog = load_catalog()
    assert catalog.databases == ["analytics"]


def test_demo_catalog_uses_many_formats() -> None:
    specs = load_catalog().for_database("default")
    assert {s.format for s in specs} >= {
        "sql",
        "folder",
        "python",
        "paired",
        "goose",
        "dbmate",
        "flyway",
    }
    assert [s.release for s in specs][-1] == "1.3"


@pytest.mark.parametrize(
    ("script", "expected", "transactional"),
    [
        # One wrapped transaction: the wrapper goes, the lines stay.
        ("BEGIN;\nCREATE TABLE a (id INT);\nCOMMIT;\n", "\nCREATE TABLE a (id INT);\n\n", None),
        ("BEGIN; CREATE TABLE a (id INT); END;", " CREATE TABLE a (id INT); ", None),
        # "COMMIT" in a comment after the wrapper is not the wrapper.
        (
            "BEGIN;\nCREATE TABLE a (id INT);\nCOMMIT;\n-- COMMIT done\n",
            "\nCREATE TABLE a (id INT);\n\n-- COMMIT done\n",
            None,
        ),
        # Several transactions, a ROLLBACK, an isolation level: the script's own.
        ("BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n", None, False),
        ("CREATE TABLE a (id INT);\nROLLBACK;\n", None, False),
        ("BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;\n", None, False),
        # A savepoint, CASE ... END, a trigger body: no transaction control at all.
        ("SAVEPOINT s;\nSELECT 1;\nROLLBACK TO s;\n", None, None),
        ("SELECT CASE WHEN 1 = 1 THEN 2 END;\n", None, None),
    ],
)
def test_a_scripts_own_transaction_control(
    script: str, expected: str | None, transactional: bool | None
) -> None:
    vendor = connection.vendor
    text, own = own_transactions(script, vendor)
    assert own is transactional
    assert text == (script if expected is None else expected)


@pytest.mark.parametrize(
    ("script", "line"),
    [
        ("CREATE TABLE a (id INT);\nSTART TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n", 2),
        ("BEGIN;\nSELECT 1;\nCOMMIT;\n\nBEGIN;\nSELECT 2;\n", 5),
        # A second BEGIN inside changes nothing: the first is the one left open.
        ("BEGIN;\nSELECT 1;\nBEGIN;\nSELECT 2;\n", 1),
        # COMMIT AND CHAIN begins the next transaction at once.
        ("BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;\nSELECT 2;\n", 1),
    ],
)
def test_a_transaction_a_script_never_ends(script: str, line: int) -> None:
    with pytest.raises(UnendedTransaction) as raised:
        own_transactions(script, connection.vendor)
    assert raised.value.line == line


@pytest.mark.parametrize(
    "script",
    [
        "BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;\nSELECT 2;\nCOMMIT;\n",
        "BEGIN;\nSELECT 1;\nROLLBACK;\nBEGIN;\nSELECT 2;\nPREPARE TRANSACTION 'x';\n",
        "BEGIN;\nSELECT 1;\nSAVEPOINT s;\nROLLBACK TO s;\nEND;\nBEGIN;\nABORT;\n",
    ],
)
def test_transactions_a_script_ends(script: str) -> None:
    assert own_transactions(script, connection.vendor) == (script, False)
