"""A brand-new ``startproject`` site with migrator installed, driven as cron or CI would."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import marker_sql

pytestmark = pytest.mark.workers  # real subprocesses


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(site)},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_site(tmp_path_factory.mktemp("newsite"))


def new_site(root: Path) -> Path:
    """A ``startproject`` site with migrator installed, a catalog in every format, and
    ``migrate`` run."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "newsite", str(root)],
        check=True,
        capture_output=True,
    )
    catalog = root / "dbchanges"
    catalog.mkdir()
    (catalog / "001_users.sql").write_text(
        marker_sql("CREATE TABLE users (id INTEGER PRIMARY KEY);", "DROP TABLE users;")
    )
    (catalog / "002_roles.up.sql").write_text("ALTER TABLE users ADD COLUMN role TEXT;")
    (catalog / "002_roles.down.sql").write_text("ALTER TABLE users DROP COLUMN role;")
    (catalog / "003_idx.sql").write_text(
        "-- migrate:up\nCREATE INDEX users_role ON users (role);\n-- migrate:down\nDROP INDEX users_role;\n"
    )
    (catalog / "V4__seed.sql").write_text("INSERT INTO users (id) VALUES (1);")
    (catalog / "005_goose.sql").write_text("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")
    (catalog / "006_folder").mkdir()
    (catalog / "006_folder" / "up.sql").write_text("SELECT 1;")
    (catalog / "007_py.py").write_text(
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.RunSQL('SELECT 1', backward='SELECT 1')]\n"
    )
    settings = root / "newsite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + "\nINSTALLED_APPS += ['simple_history', 'migrator']\n"
        + "MIGRATOR = {'DIRS': [BASE_DIR / 'dbchanges'], 'BACKEND': 'inline'}\n"
    )
    result = run(root, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    return root


def rows(site: Path) -> int:
    with sqlite3.connect(site / "db.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM migrator_migration").fetchone()[0])


def test_status_shows_every_format_pending(site: Path) -> None:
    result = run(site, "migrator", "status", "--json")
    assert result.returncode == 0, result.stderr
    [target] = json.loads(result.stdout)["databases"]
    assert target["pending"] == ["001", "002", "003", "4", "005", "006", "007"]
    assert target["current_version"] is None
    formats = {m["format"] for m in target["migrations"]}
    assert formats == {"sql", "paired", "dbmate", "flyway", "goose", "folder", "python"}
    assert target["irreversible"] == ["4", "006"]  # no undo file, no down.sql


def test_baseline_then_verify_names_the_edited_file(site: Path) -> None:
    assert run(site, "migrator", "baseline", "--version", "002").returncode == 0
    edited = site / "dbchanges" / "002_roles.up.sql"
    original = edited.read_text()
    edited.write_text(original + "\n-- reviewed\nSELECT 1;\n")
    try:
        result = run(site, "migrator", "verify")
        assert result.returncode == 1
        assert str(edited) in result.stderr
    finally:
        edited.write_text(original)
    assert run(site, "migrator", "verify").returncode == 0


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("1_dup.sql", marker_sql("SELECT 1;"), "001_users.sql"),  # 1 is 001 again
        ("008_bad.sql", "-- === UP MIGRATION ===\nSELECT 1;\n-- === UPP ===\n", "008_bad.sql:3"),
        ("008_noup.sql", "SELECT 1;\n", "008_noup.sql"),
        ("008_broken.py", "import nowhere_to_be_found\n", "008_broken.py:1"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    site: Path, name: str, text: str, expected: str
) -> None:
    path = site / "dbchanges" / name
    path.write_text(text)
    before = rows(site)
    try:
        for args in (["sync"], ["status", "--json"], ["verify"]):
            result = run(site, "migrator", *args)
            assert result.returncode == 2, (args, result.stderr)
            assert expected in result.stderr
        assert rows(site) == before
    finally:
        path.unlink()


def test_bad_usage_exits_2(site: Path) -> None:
    assert run(site, "migrator", "baseline").returncode == 2
    assert run(site, "migrator", "status", "--database", "nope").returncode == 2


#: The packages of the optional extras (``postgres``, ``rq``, ``celery``): a site on SQLite
#: installs none of them.
OPTIONAL = ("psycopg", "psycopg2", "psycopg_binary", "rq", "django_rq", "celery", "redis")

_WITHOUT_EXTRAS = (
    "import runpy, sys\n"
    "for name in {names!r}:\n"
    "    sys.modules[name] = None  # import fails as if it were not installed\n"
    "sys.argv = ['manage.py', *sys.argv[1:]]\n"
    "runpy.run_path('manage.py', run_name='__main__')\n"
)


def test_works_without_the_optional_extras(tmp_path: Path) -> None:
    """``pip install django-migrator`` alone (no PostgreSQL driver, no rq, no Celery) is
    enough for a site on SQLite: every command imports only what it uses."""
    site = new_site(tmp_path)

    def bare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _WITHOUT_EXTRAS.format(names=OPTIONAL), *args],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(site)},
        )

    assert bare("check").returncode == 0
    result = bare("migrator", "apply")
    assert result.returncode == 0, result.stderr
    status = bare("migrator", "status", "--json")
    assert status.returncode == 0, status.stderr
    [target] = json.loads(status.stdout)["databases"]
    assert target["pending"] == [] and target["current_version"] == "007"
    assert "psycopg" not in status.stderr
