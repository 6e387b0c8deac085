"""Syncing the catalog into the database: steps added, changed and removed in place, with
their history, and step runs that named a removed step keep running records."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.catalog import load_catalog
from migrator.catalog.sync import sync_catalog
from migrator.models import Deployment, Migration, Run, Step, StepRun

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


def _python(*sql: str) -> str:
    steps = ", ".join(f"dsl.RunSQL({s!r}, backward='SELECT 1')" for s in sql)
    return f"from migrator import dsl\n\nclass Migration(dsl.Migration):\n    steps = [{steps}]\n"


def test_a_sync_changes_and_removes_steps_in_place(catalog_dir: Path) -> None:
    write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);", "DROP TABLE a;"))
    write(catalog_dir, "002_b.py", _python("SELECT 1", "SELECT 2", "SELECT 3"))
    first = sync_catalog(load_catalog(), actor="t")
    assert first.created == ["default:001", "default:002"]
    migration = Migration.objects.get(version="002")
    third = Step.objects.get(migration=migration, order=3)
    deployment = Deployment.objects.create(
        database="default", direction="forward", requested_by="t"
    )
    run = Run.objects.create(
        deployment=deployment, migration=migration, order=1, direction="forward"
    )
    step_run = StepRun.objects.create(
        run=run, order=3, step_order=3, name="sql 3", kind="sql", step=third
    )

    write(catalog_dir, "002_b.py", _python("SELECT 1", "SELECT 22"))
    second = sync_catalog(load_catalog(), actor="t")

    assert second.updated == ["default:002"] and second.unchanged == 1
    steps = list(Step.objects.filter(migration=migration).order_by("order"))
    assert [s.forward for s in steps] == ["SELECT 1", "SELECT 22"]
    assert Step.history.filter(id=third.pk, history_type="-").exists()
    step_run.refresh_from_db()
    assert step_run.step_id is None, "the step run outlives the step it ran"
    assert sync_catalog(load_catalog(), actor="t").changed is False
