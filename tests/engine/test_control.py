"""Pause, resume and cancel in the middle of a run; locks; recover and unlock."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from migrator import services
from migrator.engine import execute, locks
from migrator.engine.target import Target
from migrator.exceptions import OperationFailed
from migrator.models import Deployment, Event, Migration, StepRun, TargetLock
from migrator.states import Status

from ..conftest import write
from .helpers import checksum, items_migration, transform_migration, wait_for, wait_until

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])

STOPPED = {Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK, Status.CANCELLED, Status.PAUSED}


@pytest.fixture
def slow(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    write(
        catalog_dir, "002_bump.py", transform_migration(batch_size=50, pause_between_batches=0.03)
    )
    return catalog_dir


def _under_way(deployment: Deployment, batches: int = 5) -> None:
    wait_until(
        lambda: StepRun.objects.filter(
            run__deployment=deployment, batches_done__gte=batches
        ).exists(),
        what="batches to be done",
    )


def _expected() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE items_expected AS SELECT * FROM items")
        cursor.execute("UPDATE items_expected SET qty = qty * 10 + 1, note = 'changed'")
    return checksum("items_expected")


def test_pause_then_resume_finishes_exactly(slow: Path) -> None:
    expected = _expected()
    deployment = services.apply("default", actor="t", backend="thread")
    _under_way(deployment)
    services.pause(deployment.pk, actor="alice")
    deployment = wait_for(deployment.pk, STOPPED)
    assert deployment.status == Status.PAUSED and not deployment.pause_requested
    step = StepRun.objects.get(run__deployment=deployment)
    assert 0 < step.batches_done < 60 and step.status == Status.PAUSED
    assert not TargetLock.objects.exists()
    # Paused work still owns the target: nothing else may start there.
    with pytest.raises(OperationFailed, match=f"deployment #{deployment.pk} \\(paused"):
        services.apply("default", actor="bob", backend="inline")

    services.resume(deployment.pk, actor="alice", backend="thread")
    deployment = wait_for(deployment.pk, STOPPED)
    assert deployment.status == Status.SUCCEEDED
    assert checksum("items") == expected
    actions = list(Event.objects.filter(deployment=deployment).values_list("action", "actor"))
    assert ("pause_requested", "alice") in actions and ("resume", "alice") in actions


def test_cancel_mid_run_undoes_the_migration_in_progress(slow: Path) -> None:
    before = checksum("items")
    deployment = services.apply("default", actor="t", backend="thread")
    _under_way(deployment)
    services.cancel(deployment.pk, actor="alice")
    deployment = wait_for(deployment.pk, STOPPED)
    assert deployment.status == Status.CANCELLED
    assert checksum("items") == before
    assert not Migration.objects.get(version="002").applied
    run = deployment.runs.get()
    assert run.status == Status.CANCELLED


def test_cancel_a_paused_deployment(slow: Path) -> None:
    before = checksum("items")
    deployment = services.apply("default", actor="t", backend="thread")
    _under_way(deployment)
    services.pause(deployment.pk, actor="t")
    wait_for(deployment.pk, STOPPED)
    services.cancel(deployment.pk, actor="t", backend="inline")
    deployment = wait_for(deployment.pk, STOPPED - {Status.PAUSED})
    assert deployment.status == Status.CANCELLED
    assert checksum("items") == before


def test_control_of_finished_or_unknown_deployments(slow: Path, cli) -> None:
    deployment = services.apply("default", actor="t", backend="inline")
    assert cli("pause", str(deployment.pk)).code == 1
    assert cli("resume", str(deployment.pk)).code == 1
    assert cli("cancel", str(deployment.pk)).code == 1
    assert cli("pause", "9999").code == 2


def test_a_held_target_refuses_a_second_deployment_naming_the_holder(slow: Path) -> None:
    other = services.create_deployment(services.plan("default"), actor="bob")
    holder = Deployment.objects.create(direction="forward", requested_by="alice")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread = another database session, like another worker
        try:
            with locks.hold(Target("default"), holder):
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    try:
        lock = services.status("default")["databases"][0]["lock"]
        assert lock["deployment"] == holder.pk and lock["pid"] == os.getpid()
        assert lock["host"] == socket.gethostname()
        done = execute(other.pk)
    finally:
        release.set()
        thread.join()
    assert done.status == Status.FAILED
    assert f"deployment #{holder.pk}" in done.error and socket.gethostname() in done.error
    assert not Migration.objects.get(version="002").applied


def test_recover_marks_stale_runs_and_unlock_needs_staleness(slow: Path, settings, cli) -> None:
    deployment = services.create_deployment(services.plan("default"), actor="t")
    run = deployment.runs.get()
    long_ago = timezone.now() - timedelta(minutes=10)
    Deployment.objects.filter(pk=deployment.pk).update(status=Status.RUNNING)
    run.status = Status.RUNNING
    run.heartbeat_at = long_ago
    run.save()
    lock = TargetLock.objects.create(
        database="default",
        deployment=deployment,
        host="gone",
        pid=1,
        acquired_at=long_ago,
        heartbeat_at=timezone.now(),
    )
    assert cli("unlock").code == 1  # fresh heartbeat: refuses
    result = cli("recover", "--json")
    assert result.json() == {"interrupted": [deployment.pk]}
    deployment.refresh_from_db()
    assert deployment.status == Status.INTERRUPTED
    assert not TargetLock.objects.filter(pk=lock.pk).exists()

    TargetLock.objects.create(
        database="default", host="gone", pid=1, acquired_at=long_ago, heartbeat_at=long_ago
    )
    assert cli("unlock").code == 0
    assert Event.objects.filter(action="unlock").exists()
    # An interrupted deployment resumes from its checkpoint.
    expected = _expected()
    resumed = services.resume(deployment.pk, actor="t", backend="inline")
    assert resumed.status == Status.SUCCEEDED
    assert checksum("items") == expected


def test_throttle_caps_rows_per_second(monkeypatch) -> None:
    from types import SimpleNamespace

    from migrator.engine.execution import StepExecution

    slept: list[float] = []
    monkeypatch.setattr("migrator.engine.execution.time.sleep", slept.append)
    ex = SimpleNamespace(spec=SimpleNamespace(options={"max_rows_per_second": 1000}), dry_run=False)
    now = __import__("time").monotonic()
    StepExecution.throttle(ex, 500, now)  # 500 rows at 1000/s: the batch must take 0.5 s
    assert len(slept) == 1 and 0.45 < slept[0] <= 0.5
    ex.spec.options = {"pause_between_batches": 0.25}
    StepExecution.throttle(ex, 500, now)
    assert slept[-1] == 0.25
    ex.dry_run = True
    StepExecution.throttle(ex, 500, now)
    assert len(slept) == 2  # dry runs never sleep
