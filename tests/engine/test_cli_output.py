"""What the CLI shows while it applies: lines for cron, a bar on a terminal; parameters."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from migrator import services

from ..conftest import write
from .helpers import ROOT, items_migration, transform_migration, worker_env

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def items(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    assert services.apply("default", actor="t", to="001", backend="inline").status == "succeeded"
    write(catalog_dir, "002_bump.py", transform_migration(batch_size=300))
    return catalog_dir


def test_cron_gets_timestamped_lines(items: Path, cli) -> None:
    result = cli("apply", "--yes")
    assert result.code == 0, result.err
    lines = [
        line
        for line in result.out.splitlines()
        if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 002 ", line)
    ]
    assert lines and lines[-1].endswith("rows/s") and "done, 3000/3000 rows" in lines[-1]
    assert re.search(r"deployment #\d+ succeeded", result.out)


@pytest.mark.workers
def test_a_terminal_gets_a_progress_bar(items: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "migrator", "apply", "--yes"],
        cwd=ROOT,
        env=worker_env(items),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    text = output.decode(errors="replace")
    # tqdm's bar: "002 transform 1: 100%|██████████| 3000/3000 [00:00<00:00, 9.9krows/s]"
    assert re.search(r"002 transform 1: +100%\|█+\| 3000/3000 \[", text), text
    # ... and not the log lines cron gets.
    assert not re.search(r"\d\d:\d\d:\d\d 002 transform 1: (running|done)", text), text


def test_params_reach_python_steps(catalog_dir: Path, cli) -> None:
    write(
        catalog_dir,
        "001_greet.py",
        (
            "from migrator import dsl\n\n"
            "def greet(ctx):\n"
            "    with ctx.connection.cursor() as c:\n"
            "        c.execute('CREATE TABLE greeting (who VARCHAR(20))')\n"
            "        c.execute('INSERT INTO greeting VALUES (%s)', [ctx.params['who']])\n"
            "    ctx.log('greeted', who=ctx.params['who'])\n\n"
            "def ungreet(ctx):\n"
            "    with ctx.connection.cursor() as c:\n"
            "        c.execute('DROP TABLE greeting')\n\n"
            "class Migration(dsl.Migration):\n"
            "    steps = [dsl.RunPython(greet, ungreet)]\n"
        ),
    )
    assert cli("apply", "--yes", "--param", "who=alice").code == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT who FROM greeting")
        assert cursor.fetchall() == [("alice",)]
    from migrator.models import Event

    assert Event.objects.get(action="step_log").data == {"who": "alice"}
