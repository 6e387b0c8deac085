"""SQLite's table-rebuild pattern needs foreign keys off: a migration can ask for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from migrator import services
from migrator.exceptions import BadInput
from migrator.states import Status

from ..conftest import write

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])

SETUP = """-- === UP MIGRATION ===
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id));
INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'bob');
INSERT INTO posts (id, user_id) VALUES (10, 1), (11, 2);
"""
REBUILD = """
CREATE TABLE users_new (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(80));
INSERT INTO users_new (id, name) SELECT id, name FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
"""


def _fk_enabled() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys")
        return int(cursor.fetchone()[0])


def _refused_on_postgresql() -> bool:
    """PostgreSQL cannot switch foreign keys off for one migration: the plan refuses it."""
    if connection.vendor != "postgresql":
        return False
    with pytest.raises(BadInput, match="DEFERRABLE"):
        services.plan("default")
    return True


def _columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


@pytest.mark.parametrize("how", ["header", "python", "folder"])
def test_the_table_rebuild_pattern_runs_with_foreign_keys_off(
    catalog_dir: Path, settings, how: str
) -> None:
    write(catalog_dir, "1_setup.sql", SETUP)
    if how == "header":
        write(
            catalog_dir, "2_rebuild.sql", "-- Foreign-keys: off\n-- === UP MIGRATION ===" + REBUILD
        )
    elif how == "python":
        write(
            catalog_dir,
            "2_rebuild.py",
            "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
            f"    foreign_keys = False\n    steps = [dsl.RunSQL({REBUILD!r})]\n",
        )
    else:
        settings.MIGRATOR = {
            **settings.MIGRATOR,
            "DIRS": [{"path": str(catalog_dir), "foreign_keys": False}],
        }
        write(catalog_dir, "2_rebuild.sql", "-- === UP MIGRATION ===" + REBUILD)
    if _refused_on_postgresql():
        return
    deployment = services.apply("default", actor="t", backend="inline", allow_partial_rollback=True)
    assert deployment.status == Status.SUCCEEDED, deployment.error
    assert _columns("users") == ["id", "name", "email"]
    assert _fk_enabled() == 1  # switched back on


def test_without_foreign_keys_off_the_rebuild_fails_and_changes_nothing(catalog_dir: Path) -> None:
    write(catalog_dir, "1_setup.sql", SETUP)
    assert services.apply("default", actor="t", to="1", backend="inline").status == "succeeded"
    write(catalog_dir, "2_rebuild.sql", "-- === UP MIGRATION ===" + REBUILD)
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.ROLLED_BACK
    assert ("FOREIGN KEY" if connection.vendor == "sqlite" else "depend") in deployment.error
    assert _columns("users") == ["id", "name"]


def test_dangling_rows_are_named_and_the_step_rolled_back(catalog_dir: Path) -> None:
    write(catalog_dir, "1_setup.sql", SETUP)
    assert services.apply("default", actor="t", to="1", backend="inline").status == "succeeded"
    write(
        catalog_dir,
        "2_orphans.sql",
        "-- Foreign-keys: off\n-- === UP MIGRATION ===\nDELETE FROM users WHERE id = 2;\n",
    )
    if _refused_on_postgresql():
        return
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == Status.ROLLED_BACK
    assert (
        "violate foreign keys" in deployment.error and "posts rowid 11 -> users" in deployment.error
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM users")
        assert cursor.fetchone()[0] == 2
    assert _fk_enabled() == 1
