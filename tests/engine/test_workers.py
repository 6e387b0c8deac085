"""Real worker processes: rqworker and celery against real Redis; kill -9 and recovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from migrator import services
from migrator.models import Deployment, StepRun, TargetLock
from migrator.states import Status

from ..conftest import write
from .helpers import (
    checksum,
    items_migration,
    manage,
    require_redis,
    start_celery_worker,
    start_rqworker,
    stop,
    transform_migration,
    wait_for,
    wait_until,
    worker_env,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.workers,
]

DONE = {Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK, Status.CANCELLED}


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    return catalog_dir


@pytest.fixture
def expected_items() -> tuple[int, str]:
    """What items look like after the transform, computed with one plain UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE items_expected AS SELECT * FROM items")
        cursor.execute("UPDATE items_expected SET qty = qty * 10 + 1, note = 'changed'")
    return checksum("items_expected")


@pytest.fixture
def empty_queue() -> None:
    require_redis()
    import django_rq

    django_rq.get_queue("default").empty()


def test_rqworker_applies_a_deployment(items: Path, expected_items, empty_queue) -> None:
    write(items, "002_bump.py", transform_migration(batch_size=500))
    deployment = services.apply("default", actor="t", backend="rq")
    assert (
        deployment.status == "queued"
        and deployment.job_id == f"migrator-deployment-{deployment.pk}"
    )
    worker = start_rqworker(worker_env(items), burst=True)
    try:
        deployment = wait_for(deployment.pk, DONE)
    finally:
        output = stop(worker)
    assert deployment.status == "succeeded", output
    assert checksum("items") == expected_items


def test_celery_worker_applies_a_deployment(items: Path, expected_items) -> None:
    require_redis()
    write(items, "002_bump.py", transform_migration(batch_size=500))
    worker = start_celery_worker(worker_env(items))
    try:
        deployment = services.apply("default", actor="t", backend="celery")
        deployment = wait_for(deployment.pk, DONE)
    finally:
        output = stop(worker)
    assert deployment.status == "succeeded", output
    assert "migrator.run_deployment" in output
    assert checksum("items") == expected_items


def test_kill_9_mid_transform_then_recover_and_resume(
    items: Path, expected_items, empty_queue, settings
) -> None:
    write(items, "002_bump.py", transform_migration(batch_size=50, pause_between_batches=0.05))
    worker = start_rqworker(worker_env(items, MIGRATOR_STALE_AFTER_SECONDS="2"))
    try:
        deployment = services.apply("default", actor="t", backend="rq")
        wait_until(
            lambda: (
                (Deployment.objects.get(pk=deployment.pk).progress or {}).get("batches", 0) >= 8
            ),
            what="the transform to be under way",
        )
    finally:
        stop(worker, hard=True)  # kill -9 of the worker and its work horse
    deployment.refresh_from_db()
    assert deployment.status == Status.RUNNING  # nobody told the database it died

    settings.MIGRATOR = {**settings.MIGRATOR, "STALE_AFTER_SECONDS": 2}
    wait_until(lambda: services.recover(actor="t") == [deployment.pk], timeout=30, what="recover")
    deployment.refresh_from_db()
    assert deployment.status == Status.INTERRUPTED
    assert not TargetLock.objects.exists()
    step = StepRun.objects.get(run__deployment=deployment)
    assert step.status == Status.INTERRUPTED
    assert 0 < deployment.progress["batches"] < 60  # its last heartbeat: killed halfway

    worker = start_rqworker(worker_env(items), burst=True)
    try:
        services.resume(deployment.pk, actor="t", backend="rq")
        deployment = wait_for(deployment.pk, DONE)
    finally:
        output = stop(worker)
    assert deployment.status == "succeeded", output
    # Not a batch redone (qty * 10 + 1 twice would differ) nor skipped (a row unchanged).
    assert checksum("items") == expected_items
    step.refresh_from_db()
    assert step.batches_done == 60 and step.rows_affected == 3000


def test_two_applies_at_once_exactly_one_runs(items: Path, expected_items) -> None:
    write(items, "002_bump.py", transform_migration(batch_size=100, pause_between_batches=0.03))
    env = worker_env(items)
    first = manage("migrator", "apply", "--yes", env=env)
    second = manage("migrator", "apply", "--yes", env=env)
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "deployment #" in loser and ("busy" in loser or "locked by" in loser), loser
    assert checksum("items") == expected_items
    assert (
        Deployment.objects.filter(status="succeeded", runs__migration__version="002").count() == 1
    )
