"""Helpers for engine tests: catalogs, checksums, waiting, and real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.db import connections

from migrator.engine import locks
from migrator.engine.target import Target
from migrator.models import Deployment
from migrator.schema import table_checksum

ROOT = Path(__file__).resolve().parents[2]

ITEMS = """-- Description: items with 3000 rows
-- === UP MIGRATION ===
CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, qty INTEGER NOT NULL, note TEXT);
INSERT INTO items (id, name, qty, note)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
SELECT i, 'item-' || i, i % 7, NULL FROM n;
-- === DOWN MIGRATION ===
DROP TABLE items;
"""


def items_migration(rows: int = 3000) -> str:
    return ITEMS.format(rows=rows)


def transform_migration(
    expression: str = "qty * 10 + 1", batch_size: int = 100, **options: Any
) -> str:
    extra = "".join(f", {key}={value!r}" for key, value in options.items())
    return (
        "from migrator import dsl\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [\n"
        f"        dsl.Transform(table='items', set={{'qty': {expression!r}, 'note': \"'changed'\"}},\n"
        f"                      batch_size={batch_size}{extra}),\n"
        "    ]\n"
    )


def checksum(table: str, alias: str = "default") -> tuple[int, str]:
    return table_checksum(connections[alias], table)


def wait_for(deployment_id: int, statuses: set[str], timeout: float = 90) -> Deployment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = Deployment.objects.get(pk=deployment_id)
        if deployment.status in statuses:
            return deployment
        time.sleep(0.1)
    story = "\n".join(str(e) for e in Deployment.objects.get(pk=deployment_id).events.all())
    raise AssertionError(f"deployment {deployment_id} stuck in {deployment.status}:\n{story}")


def wait_until(predicate: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def worker_env(catalog: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for a subprocess that sees the test databases and ``catalog``."""
    env = dict(os.environ)
    for alias in ("default", "analytics"):
        env[f"MIGRATOR_DB_NAME_{alias.upper()}"] = str(connections[alias].settings_dict["NAME"])
    if catalog is not None:
        env["MIGRATOR_DIRS"] = str(catalog)
        env["MIGRATOR_APP_DIRNAME"] = "no_such_folder"
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so kill -9 reaches forked children
        **kwargs,
    )


def start_rqworker(env: dict[str, str], burst: bool = False) -> subprocess.Popen[str]:
    args = (
        ["rqworker", "default", "--with-scheduler"]
        if not burst
        else ["rqworker", "default", "--burst"]
    )
    return manage(*args, env=env)


def start_celery_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "-Q",
            "default",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (RQ's work horse calls setsid(), leaving our group)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop(process: subprocess.Popen[str], hard: bool = False) -> str:
    """Stop a worker; with ``hard``, SIGKILL it and every descendant. Return its output."""
    if process.poll() is None:
        if hard:
            for pid in [process.pid, *descendants(process.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        else:
            os.killpg(process.pid, signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    return (out or "") + (err or "")


def require_redis() -> str:
    url = os.environ.get("REDIS_URL")
    assert url, "REDIS_URL is not set: run the suite with `make test`, which starts Redis"
    return url


def hold_in_a_thread(holder: Deployment) -> tuple[threading.Thread, threading.Event]:
    """Hold the target for ``holder`` in another thread (another session, like another
    worker) until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with locks.hold(Target("default"), holder):
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    return thread, release
