"""Pause, resume and cancel in the middle of a run; locks; recover and unlock."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from migrator import services
from migrator.engine import execute, locks
from migrator.engine.execution import throttle_delay
from migrator.engine.target import Target
from migrator.exceptions import OperationFailed
from migrator.models import Deployment, Event, Migration, StepRun, TargetLock
from migrator.states import Status

from ..conftest import write
from .helpers import (
    checksum,
    hold_in_a_thread,
    items_migration,
    transform_migration,
    wait_for,
    wait_until,
)

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
    """Wait until the live progress (the heartbeat's snapshot) shows ``batches`` batches."""
    wait_until(
        lambda: (
            (Deployment.objects.get(pk=deployment.pk).progress or {}).get("batches", 0) >= batches
        ),
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
    # The worker records the pause, then lets go of the target (a moment later).
    wait_until(lambda: not TargetLock.objects.exists(), what="the target to be released")
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
    # Queued (as a backend would leave it), then a worker picks it up while another
    # deployment holds the target.
    Deployment.objects.filter(pk=other.pk).update(status=Status.QUEUED)
    holder = Deployment.objects.create(direction="forward", requested_by="alice")
    thread, release = hold_in_a_thread(holder)
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


def test_a_deployment_started_as_the_previous_one_lets_go_waits_for_it(slow: Path) -> None:
    # The previous deployment recorded its end and is about to release the target: whoever
    # saw that end and starts the next one at once is not refused for that moment.
    finished = Deployment.objects.create(direction="forward", requested_by="alice")
    Deployment.objects.filter(pk=finished.pk).update(status=Status.SUCCEEDED)
    thread, release = hold_in_a_thread(finished)
    threading.Timer(0.5, release.set).start()
    try:
        following = services.apply("default", actor="bob", backend="inline")
    finally:
        release.set()
        thread.join()
    assert following.status == Status.SUCCEEDED, following.error
    assert Migration.objects.get(version="002").applied


def test_a_deployment_resumed_as_its_previous_worker_lets_go_waits_for_it(slow: Path) -> None:
    # Its worker recorded the pause and is about to release the target when the operator
    # resumes at once: the new worker waits for that moment instead of failing the
    # deployment as "locked by" itself.
    deployment = services.create_deployment(services.plan("default"), actor="alice")
    Deployment.objects.filter(pk=deployment.pk).update(status=Status.PAUSED)
    thread, release = hold_in_a_thread(deployment)
    try:
        services.resume(deployment.pk, actor="alice", backend="thread")
        threading.Timer(0.5, release.set).start()
        resumed = wait_for(deployment.pk, STOPPED)
    finally:
        release.set()
        thread.join()
    assert resumed.status == Status.SUCCEEDED, resumed.error
    assert Migration.objects.get(version="002").applied


def test_a_finished_holder_that_never_lets_go_is_reported(slow: Path, monkeypatch) -> None:
    monkeypatch.setattr(locks, "RELEASE_GRACE_SECONDS", 0.5)
    finished = Deployment.objects.create(direction="forward", requested_by="alice")
    Deployment.objects.filter(pk=finished.pk).update(status=Status.SUCCEEDED)
    thread, release = hold_in_a_thread(finished)
    try:
        refused = services.apply("default", actor="bob", backend="inline")
    finally:
        release.set()
        thread.join()
    assert refused.status == Status.FAILED
    assert f"not started: default is locked by deployment #{finished.pk}" in refused.error
    assert not Migration.objects.get(version="002").applied


def _claimed_by_a_dead_worker(worker: str, heartbeat_age: float) -> Deployment:
    """A deployment left running by a worker that is gone (what a kill -9 leaves)."""
    deployment = services.create_deployment(services.plan("default"), actor="t")
    beat = timezone.now() - timedelta(seconds=heartbeat_age)
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, worker=worker, heartbeat_at=beat
    )
    run = deployment.runs.get()
    run.status = Status.RUNNING
    run.save()
    TargetLock.objects.create(
        database="default",
        deployment=deployment,
        host=worker.split(":")[0],
        pid=int(worker.split(":")[1]),
        acquired_at=beat,
        heartbeat_at=beat,
    )
    deployment.refresh_from_db()
    return deployment


def test_recover_finds_a_dead_worker_and_resume_finishes_exactly(slow: Path, cli) -> None:
    # A process of this host that no longer exists: dead for certain, whatever its heartbeat.
    deployment = _claimed_by_a_dead_worker(f"{socket.gethostname()}:{_gone_pid()}", 1)
    result = cli("recover", "--json")
    assert result.json() == {"interrupted": [deployment.pk]}
    deployment.refresh_from_db()
    assert deployment.status == Status.INTERRUPTED
    assert deployment.runs.get().status == Status.INTERRUPTED
    assert not TargetLock.objects.exists()
    expected = _expected()
    resumed = services.resume(deployment.pk, actor="t", backend="inline")
    assert resumed.status == Status.SUCCEEDED
    assert checksum("items") == expected


def test_recover_leaves_a_live_worker_alone(slow: Path, cli) -> None:
    deployment = _claimed_by_a_dead_worker(f"{socket.gethostname()}:{os.getpid()}", 1)
    if connection.vendor == "postgresql":
        # The advisory lock is the truth there: held by a live session, the worker lives.
        target = Target("default")
        assert target.dialect.try_advisory_lock(locks.advisory_key("default"))
        try:
            assert cli("recover", "--json").json() == {"interrupted": []}
        finally:
            target.dialect.advisory_unlock(locks.advisory_key("default"))
        assert cli("recover", "--json").json() == {"interrupted": [deployment.pk]}
    else:
        # This very process holds it: alive.
        assert cli("recover", "--json").json() == {"interrupted": []}
        deployment.refresh_from_db()
        assert deployment.status == Status.RUNNING


def test_recover_of_a_worker_on_another_host(slow: Path, cli) -> None:
    deployment = _claimed_by_a_dead_worker("another-host:4242", heartbeat_age=1)
    if connection.vendor == "postgresql":
        # No session holds the advisory lock: gone, however fresh its last heartbeat.
        assert cli("recover", "--json").json() == {"interrupted": [deployment.pk]}
        return
    # Without advisory locks a worker elsewhere is trusted while its heartbeat is fresh.
    assert cli("recover", "--json").json() == {"interrupted": []}
    Deployment.objects.filter(pk=deployment.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    assert cli("recover", "--json").json() == {"interrupted": [deployment.pk]}


def test_unlock_removes_only_locks_whose_holder_is_gone(slow: Path, cli) -> None:
    now = timezone.now()
    TargetLock.objects.create(
        database="default",
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        heartbeat_at=now,
    )
    if connection.vendor == "sqlite":
        assert cli("unlock").code == 1  # its holder (this process) is alive
        assert cli("unlock", "--force").code == 0
    else:
        assert cli("unlock").code == 0  # no session holds the advisory lock: the row is stale
    assert not TargetLock.objects.exists()
    assert Event.objects.filter(action="unlock").exists()
    assert cli("unlock").code == 0 and "no lock" in cli("unlock").out


def _gone_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_throttle_delay() -> None:
    assert throttle_delay({"max_rows_per_second": 1000}, 500, 0.1) == pytest.approx(0.4)
    assert throttle_delay({"max_rows_per_second": 1000}, 500, 0.9) == 0
    assert throttle_delay({"pause_between_batches": 0.25}, 500, 0.0) == 0.25
    assert throttle_delay({"pause_between_batches": 0.25, "max_rows_per_second": 100}, 50, 0) == 0.5
    assert throttle_delay({}, 500, 0) == 0


def test_a_throttled_transform_takes_at_least_rows_over_rate(catalog_dir: Path) -> None:
    write(catalog_dir, "001_items.sql", items_migration(600))
    write(catalog_dir, "002_bump.py", transform_migration(batch_size=100, max_rows_per_second=1000))
    started = time.monotonic()
    deployment = services.apply("default", actor="t", backend="inline")
    elapsed = time.monotonic() - started
    assert deployment.status == Status.SUCCEEDED
    # 600 rows at 1000 rows/s: at least 0.6 s of batches (a lower bound: noise only adds).
    assert elapsed >= 0.55


@contextmanager
def schema_changing_in_a_loop() -> Iterator[list[int]]:
    """Many tables, and another connection creating and dropping one in a loop (what a
    deployment of small DDL migrations does): yields the count of changes so far."""
    tables = 1500 if connection.vendor == "sqlite" else 100
    with connection.cursor() as cursor:
        for i in range(tables):
            cursor.execute(f"CREATE TABLE hb_wide_{i} (id INTEGER PRIMARY KEY, a TEXT, b TEXT)")
    stop = threading.Event()
    changes = [0]

    def change_the_schema() -> None:
        with connections["default"].cursor() as cursor:
            while not stop.is_set():
                cursor.execute(f"CREATE TABLE hb_new_{changes[0]} (id INTEGER PRIMARY KEY)")
                cursor.execute(f"DROP TABLE hb_new_{changes[0]}")
                changes[0] += 1
        connections.close_all()

    changer = threading.Thread(target=change_the_schema)
    changer.start()
    try:
        yield changes
    finally:
        stop.set()
        changer.join()
        with connection.cursor() as cursor:
            for i in range(tables):
                cursor.execute(f"DROP TABLE hb_wide_{i}")


#: Calls and schema changes each side must make, and the time they have for it: the two
#: compete for SQLite's locks, and how fast each goes depends on the machine's load.
_ENOUGH, _DEADLINE = 20, 20.0


def _alongside(
    call: Callable[[], object], changes: list[int], pause: float = 0
) -> tuple[int, list[str]]:
    """Call ``call`` (``pause`` seconds apart) until it succeeded and the schema changed
    ``_ENOUGH`` times each, or ``_DEADLINE`` passed: the successes, and the errors."""
    done, failures = 0, []
    deadline = time.monotonic() + _DEADLINE
    while (done < _ENOUGH or changes[0] < _ENOUGH) and time.monotonic() < deadline:
        try:
            call()
            done += 1
        except Exception as exc:  # noqa: BLE001 - counted, asserted by the caller
            failures.append(repr(exc))
        time.sleep(pause)
    return done, failures


def test_the_heartbeat_beats_through_a_stream_of_schema_changes() -> None:
    """Small DDL migrations one after another change the schema faster than a SQLite
    connection with many tables reloads it: a beat prepared outside a transaction failed
    with "database schema has changed" (or starved). It beats, every time."""
    from migrator.engine.control import Heartbeat
    from migrator.engine.progress import Board

    deployment = Deployment.objects.create(direction="forward", requested_by="t")
    heartbeat = Heartbeat(deployment, Board(), interval=0.01)
    with schema_changing_in_a_loop() as changes:
        # Beats a heartbeat's interval apart: back to back, each taking the write lock
        # first, they left the schema changer no turn (4,981 beats, 1 change in 3 s).
        beats, failures = _alongside(heartbeat.beat, changes, pause=heartbeat.interval)
    assert failures == [], failures[:3]
    assert beats >= _ENOUGH and changes[0] >= _ENOUGH, f"{beats} beats, {changes[0]} changes"
    deployment.refresh_from_db()
    assert deployment.heartbeat_at is not None


def test_reads_succeed_through_a_stream_of_schema_changes() -> None:
    """What the console and the host project read while such a deployment runs: on
    SQLite a third of these queries failed with "database schema has changed"."""
    Deployment.objects.create(direction="forward", requested_by="t")

    def read() -> None:
        assert Deployment.objects.filter(requested_by="t").count() == 1
        list(Event.objects.order_by("-pk")[:20])

    with schema_changing_in_a_loop() as changes:
        reads, failures = _alongside(read, changes)
    assert failures == [], failures[:3]
    assert reads >= _ENOUGH and changes[0] >= _ENOUGH, f"{reads} reads, {changes[0]} changes"
