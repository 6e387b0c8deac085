"""Backups before a run, restore when there is no other way back, checksum-verified, pruned."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from migrator import services
from migrator.engine.backups import touched_tables
from migrator.engine.target import Target
from migrator.models import Backup, Event, Migration

from ..conftest import marker_sql, write
from .helpers import checksum, items_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration(500))
    write(
        catalog_dir,
        "002_other.sql",
        marker_sql("CREATE TABLE other (id INTEGER PRIMARY KEY);", "DROP TABLE other;"),
    )
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"
    return catalog_dir


def test_touched_tables_are_found_by_parsing(items: Path) -> None:
    write(
        items,
        "003_x.sql",
        marker_sql(
            "UPDATE items SET qty = 0 WHERE id IN (SELECT id FROM other);\n"
            "-- DELETE FROM nowhere;\nINSERT INTO other (id) VALUES (1);",
            "SELECT 1;",
        ),
    )
    spec = services.spec_for("default", "003")
    assert touched_tables(spec, Target("default")) == ["items", "other"]


def test_irreversible_migration_is_rolled_back_from_its_backup(items: Path, cli) -> None:
    before = checksum("items")
    write(
        items,
        "003_wipe.sql",
        "-- === UP MIGRATION ===\nUPDATE items SET qty = -1, note = 'wiped';\n",
    )
    assert cli("apply", "--yes", "--backup", "touched").code == 0
    backup = Backup.objects.get()
    assert [t["table"] for t in backup.tables] == ["items"] and backup.tables[0]["rows"] == 500
    assert len(backup.tables[0]["sha256"]) == 64
    assert checksum("items") != before

    plan = cli("plan", "--rollback", "--json").json()
    assert plan["runs"][0]["restore_backup"] == backup.pk
    assert cli("rollback", "--yes").code == 0
    assert checksum("items") == before
    backup.refresh_from_db()
    assert backup.restored_at is not None
    assert not Migration.objects.get(version="003").applied
    assert Event.objects.filter(action="restore").exists()


def test_a_tampered_backup_is_not_restored(items: Path, cli) -> None:
    write(items, "003_wipe.sql", "-- === UP MIGRATION ===\nUPDATE items SET qty = -1;\n")
    assert cli("apply", "--yes", "--backup", "touched").code == 0
    backup = Backup.objects.get()
    stored = backup.tables[0]["stored_as"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE migrator_backup."{stored}" SET qty = 999 WHERE id = 1')
    else:
        import sqlite3

        with sqlite3.connect(backup.location) as db:
            db.execute(f'UPDATE "{stored}" SET qty = 999 WHERE id = 1')
    wiped = checksum("items")
    result = cli("rollback", "--yes")
    assert result.code == 1 and "changed since it was taken" in result.err
    assert checksum("items") == wiped
    assert Migration.objects.get(version="003").applied


def test_prune_keeps_the_newest_backups_and_drops_dead_captures(items: Path, cli) -> None:
    for n in range(3, 6):
        write(
            items,
            f"00{n}_t.py",
            (
                "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
                "    steps = [dsl.Transform(table='items', set={'qty': 'qty + 1'})]\n"
            ),
        )
        assert cli("apply", "--yes", "--backup", "touched").code == 0
    assert Backup.objects.count() == 3
    assert cli("rollback", "--yes").code == 0  # 005's captured values are used up
    result = cli("prune", "--keep", "1", "--json")
    assert result.code == 0, result.err
    removed = result.json()
    assert len(removed["backups"]) == 2 and Backup.objects.count() == 1
    captures = [n for n in connection.introspection.table_names() if n.startswith("migrator_cap_")]
    assert len(captures) == 2  # 003 and 004 are applied: their captures stay
    assert cli("rollback", "--steps", "2", "--yes").code == 0
