"""The objects alive when a deployment starts are kept out of full garbage collections
while it runs, and given back to them when it ends."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
from django.db import connection

from migrator import services
from migrator.heap import long_lived_frozen

from ..conftest import write

FROZEN_SEEN = (
    "import gc\n"
    "from migrator import dsl\n\n"
    "def note(ctx):\n"
    "    with ctx.connection.cursor() as c:\n"
    "        c.execute('CREATE TABLE frozen_seen (objects INTEGER)')\n"
    "        c.execute('INSERT INTO frozen_seen VALUES (%s)', [gc.get_freeze_count()])\n\n"
    "def drop(ctx):\n"
    "    with ctx.connection.cursor() as c:\n"
    "        c.execute('DROP TABLE frozen_seen')\n\n"
    "class Migration(dsl.Migration):\n"
    "    steps = [dsl.RunPython(note, drop)]\n"
)


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_a_deployment_runs_with_the_heap_it_started_with_frozen(catalog_dir: Path) -> None:
    write(catalog_dir, "001_note.py", FROZEN_SEEN)
    assert gc.get_freeze_count() == 0
    deployment = services.apply("default", actor="t", backend="inline")
    assert deployment.status == "succeeded", deployment.error
    with connection.cursor() as cursor:
        cursor.execute("SELECT objects FROM frozen_seen")
        seen = cursor.fetchone()[0]
    # Django, the catalog, the deployment's rows: far more than a handful of objects.
    assert seen > 10_000
    assert gc.get_freeze_count() == 0  # thawed at the end: collectable again
    assert services.rollback("default", actor="t", backend="inline").status == "succeeded"


def test_nested_and_concurrent_blocks_thaw_when_the_last_one_ends() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with long_lived_frozen():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    assert gc.get_freeze_count() > 0
    with long_lived_frozen():
        with long_lived_frozen():
            pass
        assert gc.get_freeze_count() > 0  # the inner block did not thaw
        leave.set()
        thread.join()
        assert gc.get_freeze_count() > 0  # nor did the other thread's
    assert gc.get_freeze_count() == 0


def test_a_failing_block_still_thaws() -> None:
    with pytest.raises(RuntimeError), long_lived_frozen():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0
