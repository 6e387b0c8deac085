"""``manage.py migrator`` subcommands: status, sync, verify, repair, baseline, create."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.catalog import load_catalog
from migrator.catalog.formats.base import TODO_UP
from migrator.models import Event, Migration
from migrator.services import next_version

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(catalog_dir: Path) -> Path:
    for version in ("1", "2", "3"):
        write(
            catalog_dir,
            f"{version}_m{version}.sql",
            marker_sql(f"CREATE TABLE t{version} (id INT);", f"DROP TABLE t{version};"),
        )
    return catalog_dir


def test_status_json_lists_everything_pending(cli, three: Path) -> None:
    result = cli("status", "--json", "--database", "default")
    assert result.code == 0
    [target] = result.json()["databases"]
    assert target["database"] == "default"
    assert target["current_version"] is None
    assert target["latest_version"] == "3"
    assert target["pending"] == ["1", "2", "3"]
    assert target["applied"] == target["drifted"] == target["missing"] == []
    first = target["migrations"][0]
    assert set(first) >= {"version", "name", "format", "source", "state", "reversible", "checksum"}
    assert target["lock"] is None and target["deployments"] == []


def test_status_does_not_write(cli, three: Path) -> None:
    cli("status")
    assert not Migration.objects.exists()


def test_status_unknown_database(cli, three: Path) -> None:
    result = cli("status", "--database", "nope")
    assert result.code == 2 and "unknown database alias 'nope'" in result.err


def test_sync_then_check(cli, three: Path) -> None:
    assert cli("sync", "--check").code == 1
    assert not Migration.objects.exists()
    result = cli("sync", "--json")
    assert result.code == 0 and result.json()["created"] == ["default:1", "default:2", "default:3"]
    assert Migration.objects.count() == 3
    forward = Migration.objects.get(version="2").steps.get().forward
    assert forward.strip().startswith("CREATE TABLE t2")
    assert cli("sync", "--check").code == 0
    (three / "3_m3.sql").unlink()
    assert cli("sync").code == 0
    assert not Migration.objects.get(version="3").on_disk
    assert Event.objects.filter(action="sync").count() == 2


def test_baseline_then_verify_detects_drift_and_repair_accepts_it(cli, three: Path) -> None:
    result = cli("baseline", "--version", "2")
    assert result.code == 0, result
    status = cli("status", "--json").json()["databases"][0]
    assert status["applied"] == ["1", "2"] and status["pending"] == ["3"]
    assert status["current_version"] == "2"
    assert cli("verify").code == 0

    edited = three / "2_m2.sql"
    edited.write_text(marker_sql("CREATE TABLE t2 (id BIGINT);", "DROP TABLE t2;"))
    result = cli("verify")
    assert result.code == 1
    assert str(edited) in result.err and "changed after it was applied" in result.err
    assert cli("status", "--json").json()["databases"][0]["drifted"] == ["2"]

    assert cli("repair").code == 2  # --reason is required
    result = cli("repair", "--reason", "widened id column by hand in prod")
    assert result.code == 0 and "default:2" in result.out
    assert cli("verify").code == 0
    row = Migration.objects.get(version="2")
    last = row.history.first()
    assert last.history_change_reason.endswith("widened id column by hand in prod")
    assert "repair by cli:" in last.history_change_reason
    event = Event.objects.get(action="repair")
    assert event.data["reason"] == "widened id column by hand in prod"


def test_verify_reports_applied_migration_whose_file_is_gone(cli, three: Path) -> None:
    cli("baseline", "--version", "1")
    (three / "1_m1.sql").unlink()
    result = cli("verify")
    assert result.code == 1 and "file is gone" in result.err


def test_baseline_is_audited_and_refused_twice(cli, three: Path) -> None:
    assert cli("baseline", "--version", "1").code == 0
    event = Event.objects.get(action="baseline")
    assert event.actor.startswith("cli:") and event.data["marked"] == ["1"]
    row = Migration.objects.get(version="1")
    assert row.baselined and row.applied_checksum == row.checksum
    assert cli("baseline", "--version", "2").code == 1


def test_baseline_unknown_version(cli, three: Path) -> None:
    result = cli("baseline", "--version", "9")
    assert result.code == 2 and "unknown version '9'" in result.err
    assert not Migration.objects.exists()


@pytest.mark.parametrize("fmt", ["sql", "paired", "folder", "dbmate", "goose", "flyway", "python"])
def test_create_scaffolds_the_next_version(cli, three: Path, fmt: str) -> None:
    result = cli("create", "Add user roles", "--format", fmt, "--json")
    assert result.code == 0, result
    files = [Path(f) for f in result.json()["files"]]
    assert all(f.exists() and f.is_relative_to(three) for f in files)
    # The scaffold only needs its forward SQL filled in (python scaffolds are complete);
    # until then the catalog refuses it, naming the file.
    if fmt != "python":
        result = cli("status")
        assert result.code == 2 and str(files[0]).rsplit("/", 1)[0] in result.err
        files[0].write_text(files[0].read_text().replace(TODO_UP, "SELECT 1;"))
    specs = load_catalog().for_database("default")
    assert specs[-1].version == "4" and specs[-1].name == "add_user_roles"


def test_create_with_bad_name(cli, three: Path) -> None:
    assert cli("create", "!!!").code == 2


def test_next_version_keeps_the_style() -> None:
    assert next_version([]) == "0001"
    assert next_version(["0009", "0010"]) == "0011"
    assert next_version(["1.9.0", "1.10.0"]) == "1.10.1"
    from datetime import datetime

    assert next_version(["20240101000000"], now=datetime(2026, 1, 2, 3, 4, 5)) == "20260102030405"


def test_usage_errors_exit_2(cli) -> None:
    assert cli("no-such-subcommand").code == 2
    assert cli("baseline").code == 2
