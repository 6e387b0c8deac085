"""Bad catalogs: each problem names its file (and line), exits 2, and syncs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.models import Event, Migration

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


def assert_rejected(cli, *fragments: str) -> str:
    result = cli("sync")
    assert result.code == 2, result
    for fragment in fragments:
        assert fragment in result.err, result.err
    assert not Migration.objects.exists()
    assert not Event.objects.exists()
    return result.err


@pytest.fixture
def good(catalog_dir: Path) -> Path:
    write(catalog_dir, "1_good.sql", marker_sql("CREATE TABLE good (id INT);", "DROP TABLE good;"))
    return catalog_dir


def test_duplicate_versions_name_both_files(cli, good: Path) -> None:
    write(good, "001_again.up.sql", "SELECT 1;")
    assert_rejected(cli, "1_good.sql", "001_again.up.sql", "version")


def test_dependency_cycle_is_named(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- Depends-On: 3\n" + marker_sql("SELECT 1;"))
    write(good, "3_c.sql", "-- Depends-On: 2\n" + marker_sql("SELECT 1;"))
    err = assert_rejected(cli, "dependency cycle")
    assert "2 -> 3 -> 2" in err or "3 -> 2 -> 3" in err


def test_dependency_on_unknown_version(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- Depends-On: 9\n" + marker_sql("SELECT 1;"))
    assert_rejected(cli, "2_b.sql", "depends on version 9")


def test_unknown_marker_names_the_line(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- === UP MIGRATION ===\nSELECT 1;\n-- === SIDEWAYS MIGRATION ===\n")
    assert_rejected(cli, "2_b.sql:3", "unknown marker")


def test_misordered_markers(cli, good: Path) -> None:
    write(
        good,
        "2_b.sql",
        "-- === DOWN MIGRATION ===\nSELECT 1;\n-- === UP MIGRATION ===\nSELECT 2;\n",
    )
    assert_rejected(cli, "2_b.sql:1", "before")


def test_missing_up_section(cli, good: Path) -> None:
    write(good, "2_b.sql", "CREATE TABLE b (id INT);\n")
    assert_rejected(cli, "2_b.sql", "no UP section")


def test_sql_migrate_markers_are_named(cli, good: Path) -> None:
    """A file of sql-migrate (a tool migrator does not read) says so, with the line of its
    marker and goose's markers of the same shape."""
    write(good, "2_b.sql", "-- people\n-- +migrate Up\nCREATE TABLE b (id INT);\n")
    assert_rejected(cli, "2_b.sql:2", "no UP section", "'-- +migrate Up' is sql-migrate's")


def test_empty_up_section(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- === UP MIGRATION ===\n\n-- === DOWN MIGRATION ===\nSELECT 1;\n")
    assert_rejected(cli, "2_b.sql", "UP part is empty")


def test_unknown_goose_annotation(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- +goose Up\nSELECT 1;\n-- +goose Sideways\n")
    assert_rejected(cli, "2_b.sql:3", "unknown goose annotation")


def test_dbmate_options_dbmate_ignores_are_warnings(cli, good: Path) -> None:
    """dbmate reads ``key:value`` pairs and acts on ``transaction:false`` only: what it
    ignores is shown (by line), and the section keeps its transaction."""
    write(good, "3_c.sql", "-- migrate:up transaction:maybe\nSELECT 1;\n-- migrate:down fast\n")
    result = cli("sync")
    assert result.code == 0, result
    assert "3_c.sql:1" in result.out and "only transaction:false" in result.out, result.out
    assert "3_c.sql:3" in result.out and "'fast' is not key:value" in result.out, result.out
    step = Migration.objects.get(version="3").steps.get()
    assert step.options.get("transaction", True) is True


def test_unclosed_goose_statement_block(cli, good: Path) -> None:
    write(good, "2_b.sql", "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n")
    assert_rejected(cli, "2_b.sql:2", "StatementBegin without StatementEnd")


def test_python_module_that_fails_to_import(cli, good: Path) -> None:
    write(good, "2_b.py", "from migrator import dsl\n\nx = 1\nraise RuntimeError('boom')\n")
    assert_rejected(cli, "2_b.py:4", "RuntimeError: boom")


def test_python_module_with_syntax_error(cli, good: Path) -> None:
    write(good, "2_b.py", "class Migration(\n")
    assert_rejected(cli, "2_b.py:1", "SyntaxError")


def test_python_module_without_migration_class(cli, good: Path) -> None:
    write(good, "2_b.py", "X = 1\n")
    assert_rejected(cli, "2_b.py", "no `class Migration")


def test_invalid_transform_spec(cli, good: Path) -> None:
    write(
        good,
        "2_b.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='t; DROP TABLE x', set={'v': 'v + 1'})]\n",
    )
    assert_rejected(cli, "2_b.py:3", "table must be a table name")


def test_transform_missing_vendor_sql(cli, good: Path) -> None:
    write(
        good,
        "2_b.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='t', set={'v': {'oracle': 'v + 1'}})]\n",
    )
    assert_rejected(cli, "2_b.py:3", "has no SQL for")


def test_unversioned_sql_file(cli, good: Path) -> None:
    write(good, "create_things.sql", marker_sql("SELECT 1;"))
    assert_rejected(cli, "create_things.sql", "no version in the file name")


def test_down_without_up(cli, good: Path) -> None:
    write(good, "2_b.down.sql", "SELECT 1;")
    assert_rejected(cli, "2_b.down.sql", "without its up file")


def test_folder_without_up(cli, good: Path) -> None:
    (good / "2_b").mkdir()
    assert_rejected(cli, "2_b", "without up.sql")


def test_repeatable_flyway_script_with_a_version_is_refused(cli, good: Path) -> None:
    write(good, "R1__views.sql", "SELECT 1;")
    assert_rejected(cli, "R1__views.sql", "repeatable")


def test_dirs_entry_that_does_not_exist(cli, settings, tmp_path: Path) -> None:
    settings.MIGRATOR = {"APP_DIRNAME": "none", "DIRS": [str(tmp_path / "nowhere")]}
    assert_rejected(cli, "MIGRATOR['DIRS'][0]", "nowhere", "does not exist")


def test_unknown_database_alias(cli, settings, tmp_path: Path) -> None:
    settings.MIGRATOR = {
        "APP_DIRNAME": "none",
        "DIRS": [{"path": str(tmp_path), "database": "nope"}],
    }
    assert_rejected(cli, "unknown database alias 'nope'")


def test_all_problems_are_reported_at_once(cli, good: Path) -> None:
    write(good, "2_b.sql", "nothing here\n")
    write(good, "3_c.py", "import does_not_exist\n")
    assert_rejected(cli, "2_b.sql", "3_c.py:1")


def test_status_with_bad_catalog_exits_2_json(cli, good: Path) -> None:
    write(good, "2_b.sql", "nothing here\n")
    result = cli("status", "--json")
    assert result.code == 2
    assert "2_b.sql" in result.out  # the JSON payload lists the problems


_DBMATE = "-- migrate:up\nCREATE TABLE {0} (id INT);\n-- migrate:down\nDROP TABLE {0};\n"
_GOOSE = "-- +goose Up\nCREATE TABLE {0} (id INT);\n-- +goose Down\nDROP TABLE {0};\n"


def test_timestamps_of_one_width_order_alike_in_every_tool(cli, catalog_dir: Path) -> None:
    write(catalog_dir, "20240101000000_a.sql", _DBMATE.format("a"))
    write(catalog_dir, "20240102000000_b.sql", _DBMATE.format("b"))
    quiet = cli("status")
    assert quiet.code == 0 and "sorts" not in quiet.out + quiet.err, quiet


@pytest.mark.parametrize(
    ("files", "first", "says"),
    [
        # dbmate sorts file names as text: 10000000000000_d before 100000022_c.
        (
            {"100000022_c.sql": _DBMATE, "10000000000000_d.sql": _DBMATE},
            "100000022_c.sql",
            "dbmate applies 10000000000000_d.sql before this one (it sorts its file names, "
            "as text)",
        ),
        # goose compares one number: a date of eight digits before a timestamp of
        # fourteen from the day before (migrator orders them by time).
        (
            {"20190226002946_a.sql": _GOOSE, "20190227_b.sql": _GOOSE},
            "20190226002946_a.sql",
            "goose applies 20190227_b.sql before this one (it sorts versions as one number)",
        ),
    ],
)
def test_a_tool_that_orders_otherwise_is_warned_about(
    cli, catalog_dir: Path, files: dict[str, str], first: str, says: str
) -> None:
    """Where the folder's own tool would apply it in another order, the first file that
    changes places is named with the file its tool runs there; everything is read."""
    for name, text in files.items():
        write(catalog_dir, name, text.format(name.split("_")[1].removesuffix(".sql")))
    result = cli("sync")
    assert result.code == 0, result
    assert first in result.out and says in result.out, result.out
    assert "2 migrations take other places" in result.out, result.out
    assert Migration.objects.count() == 2


def test_diesel_versions_compared_as_text_are_warned_about(
    cli, catalog_dir: Path, settings
) -> None:
    """diesel sorts versions as text once their dashes are out: 10 before 2."""
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "format": "diesel"}],
    }
    for version in ("1", "2", "10"):
        write(catalog_dir, f"{version}_t{version}/up.sql", f"CREATE TABLE t{version} (id INT);\n")
        write(catalog_dir, f"{version}_t{version}/down.sql", f"DROP TABLE t{version};\n")
    result = cli("sync")
    assert result.code == 0, result
    assert "diesel applies 10_t10 before this one" in result.out, result.out
    assert "dashes removed" in result.out, result.out
