"""Random mutations of a real catalog taken past ``sync``: whatever a mutated catalog
does when planned, applied, rolled back and verified, no command ends in a traceback and
the session is never left inside a transaction (a long-lived worker goes on using it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections

from migrator.dialects import dialect_for
from migrator.models import Deployment, Event, Migration, Run, Step

from .test_malformed import mutated_catalogs, write_mutated

pytestmark = pytest.mark.django_db(transaction=True)

#: Tables the catalog's migrations create.
_TABLES = ("users", "posts", "f", "g")


def _fresh_database() -> None:
    Run.objects.all().delete()
    Deployment.objects.all().delete()
    Step.objects.all().delete()
    Migration.objects.all().delete()
    Event.objects.all().delete()
    with connections["default"].cursor() as cursor:
        for table in _TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


@mutated_catalogs(60)
def test_mutated_catalogs_applied_and_rolled_back_without_a_traceback(
    cli, catalog_dir: Path, target: str, changes: list
) -> None:
    write_mutated(catalog_dir, target, changes)
    _fresh_database()
    dialect = dialect_for("default")
    result = cli("sync")
    assert result.code in (0, 2), result
    if result.code == 2:
        return  # what test_malformed checks
    for command in (
        ("plan",),
        ("apply", "--yes"),
        ("status",),
        ("verify",),
        ("rollback", "--steps", "20", "--yes"),
        ("status", "--json"),
    ):
        result = cli(*command)
        assert "Traceback" not in result.err + result.out, (command, result)
        # 1: a migration failed (its SQL is what the mutation made it); 3: drift found.
        assert result.code in (0, 1, 2, 3), (command, result)
        assert not dialect.in_script_transaction(), (command, result)
