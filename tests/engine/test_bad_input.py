"""Bad requests exit 2 (or 1) with a clear message and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator import services
from migrator.models import Deployment, Migration

from ..conftest import marker_sql, write
from .helpers import checksum, items_migration, transform_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration(100))
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    return catalog_dir


def unchanged(before: tuple[int, str], deployments: int) -> None:
    assert checksum("items") == before
    assert Deployment.objects.count() == deployments


def test_unknown_version(items: Path, cli) -> None:
    before, count = checksum("items"), Deployment.objects.count()
    for args in (
        ["apply", "--to", "9", "--yes"],
        ["rollback", "--to", "9", "--yes"],
        ["plan", "--to", "9"],
    ):
        result = cli(*args)
        assert result.code == 2 and "unknown version '9'" in result.err
    unchanged(before, count)


def test_drifted_migration_is_refused(items: Path, cli) -> None:
    write(items, "002_next.sql", marker_sql("UPDATE items SET qty = 1;", "SELECT 1;"))
    (items / "001_items.sql").write_text(items_migration(100) + "\n-- edited\n")
    before, count = checksum("items"), Deployment.objects.count()
    result = cli("apply", "--yes")
    assert result.code == 1 and "drifted" in result.err and "001_items.sql" in result.err
    unchanged(before, count)


def test_irreversible_rollback_is_refused(items: Path, cli) -> None:
    write(items, "002_oneway.sql", "-- === UP MIGRATION ===\nUPDATE items SET qty = 0;\n")
    assert cli("apply", "--yes", "--backup", "off").code == 0
    before, count = checksum("items"), Deployment.objects.count()
    result = cli("rollback", "--yes")
    assert result.code == 1
    assert (
        "002_oneway.sql" in result.err
        and "no backward SQL" in result.err
        and "No backup" in result.err
    )
    unchanged(before, count)


def test_a_migration_with_no_way_back_is_backed_up_and_restored_exactly(items: Path, cli) -> None:
    original = checksum("items")
    write(items, "002_oneway.sql", "-- === UP MIGRATION ===\nUPDATE items SET qty = 0;\n")
    plan = cli("plan", "--json").json()
    assert plan["runs"][0]["backup"] is True and plan["runs"][0]["way_back"] == "by backup"
    assert plan["rollback"]["guarantee"] == "exact"
    assert cli("apply", "--yes").code == 0
    assert checksum("items") != original
    result = cli("rollback", "--yes")
    assert result.code == 0 and "backup" in result.out
    assert checksum("items") == original


def test_invalid_transform_spec(items: Path, cli) -> None:
    write(items, "002_bad.py", transform_migration(batch_size=0))
    before, count = checksum("items"), Deployment.objects.count()
    result = cli("apply", "--yes")
    assert result.code == 2 and "002_bad.py" in result.err and "batch_size" in result.err
    unchanged(before, count)


def test_bad_options(items: Path, cli) -> None:
    count = Deployment.objects.count()
    assert cli("rollback", "--to", "001", "--steps", "1", "--yes").code == 2
    assert cli("rollback", "--steps", "0", "--yes").code == 2
    assert cli("apply", "--param", "novalue", "--yes").code == 2
    assert cli("apply", "--backup", "sometimes").code == 2
    assert cli("apply", "--async", "--backend", "inline", "--yes").code == 2
    assert cli("rollback").code == 2  # not a terminal and no --yes
    assert cli("apply", "--database", "nope").code == 2
    assert Deployment.objects.count() == count
    assert Migration.objects.get(version="001").applied


def test_apply_to_an_older_applied_version_points_to_rollback(items: Path, cli) -> None:
    write(items, "002_next.sql", marker_sql("SELECT 1;", "SELECT 1;"))
    assert cli("apply", "--yes").code == 0
    result = cli("apply", "--to", "001", "--yes")
    assert result.code == 2 and "rollback --to 001" in result.err


def test_a_transform_on_a_missing_table_or_column_is_refused_at_plan_time(items: Path, cli) -> None:
    write(
        items,
        "002_bad.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='itemz', set={'qty': 'qty + 1'})]\n",
    )
    result = cli("plan")
    assert (
        result.code == 2 and "002_bad.py" in result.err and "'itemz' does not exist" in result.err
    )
    (items / "002_bad.py").write_text(
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='items', set={'quantity': 'qty + 1'})]\n"
    )
    result = cli("apply", "--yes")
    assert result.code == 2 and "no column 'quantity'" in result.err
    assert not Deployment.objects.filter(runs__migration__version="002").exists()
    # A table an earlier migration of the same plan creates is fine.
    write(
        items, "002_bad.py", marker_sql("CREATE TABLE later (id INTEGER PRIMARY KEY, n INTEGER);")
    )
    write(
        items,
        "003_fill.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.Transform(table='later', set={'n': '1'})]\n",
    )
    (items / "002_bad.py").rename(items / "002_later.sql")
    assert cli("plan").code == 0


@pytest.mark.parametrize("ending", ["COMMIT", "ROLLBACK"])
def test_python_code_that_ends_the_steps_transaction_fails_the_step(
    items: Path, cli, ending: str
) -> None:
    """A python step runs in one transaction with its record: code that commits or rolls
    it back itself would have the step recorded as done with its work elsewhere (or
    gone). The step fails instead, saying why, and its record says so."""
    write(
        items,
        "002_ends.py",
        "from migrator import dsl\n\n\ndef go(ctx):\n"
        "    with ctx.connection.cursor() as cursor:\n"
        "        cursor.execute('UPDATE items SET qty = qty + 1')\n"
        f"        cursor.execute('{ending}')\n"
        "        cursor.execute('UPDATE items SET qty = qty + 1')\n\n\n"
        "class Migration(dsl.Migration):\n    steps = [dsl.RunPython(go)]\n",
    )
    result = cli("apply", "--yes")
    assert result.code == 1, result
    assert "its code ended the step's transaction itself" in result.err, result.err
    assert not Migration.objects.get(version="002").applied
    failed = Deployment.objects.latest("pk")
    assert "transaction=False" in failed.error
    # With transaction=False the code manages its own transactions.
    text = (items / "002_ends.py").read_text()
    text = text.replace("RunPython(go)", "RunPython(go, transaction=False)")
    text = text.replace(
        "cursor.execute('UPDATE", "cursor.execute('BEGIN')\n        cursor.execute('UPDATE", 1
    )
    (items / "002_ends.py").write_text(text)
    result = cli("apply", "--yes")
    assert result.code == 0, result


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        ("", "its code began a transaction it did not end"),
        ("        raise ValueError('stopped half-way')\n", "ValueError: stopped half-way"),
    ],
)
def test_python_code_that_leaves_its_own_transaction_open(
    items: Path, cli, tail: str, said: str
) -> None:
    """With transaction=False the code manages its transactions: one it leaves open (or
    is inside when it raises) is rolled back, and the step fails with its record written,
    not with a traceback."""
    before = checksum("items")
    write(
        items,
        "002_open.py",
        "from migrator import dsl\n\n\ndef go(ctx):\n"
        "    with ctx.connection.cursor() as cursor:\n"
        "        cursor.execute('BEGIN')\n"
        "        cursor.execute('UPDATE items SET qty = qty + 1')\n"
        f"{tail}\n\n"
        "class Migration(dsl.Migration):\n    steps = [dsl.RunPython(go, transaction=False)]\n",
    )
    result = cli("apply", "--yes", "--no-auto-rollback")
    assert result.code == 1, result
    assert said in result.err and "Traceback" not in result.err, result.err
    assert checksum("items") == before  # the open transaction's update was undone
    assert said in Deployment.objects.latest("pk").error
