"""Bookkeeping per migration: a catalog of N small SQL migrations applied by migrator,
against executing the same SQL directly, Django's ``migrate`` of the same SQL as
``RunSQL`` migrations, and yoyo-migrations of the same files, same database, same run.

Overhead per migration = (tool's time - direct time) / N. Targets: migrator under 2 ms per
migration, and under Django's and yoyo's, applying them and rolling all of them back
(against dropping the tables directly, Django's ``migrate bench_app zero`` and yoyo's
rollback); ``status`` and ``plan`` with N applied migrations under 300 ms. On PostgreSQL (``DATABASE_URL``, fsync on as production runs) or SQLite
(without it), after one untimed run of each tool (``--warmup``). Usage:
``python bench/catalog_bench.py [--count 1000] [--repeat 3] [--warmup 1]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _setup import ROOT, Sample, django_setup, report

UP = (
    "CREATE TABLE bench_m{i} (id INTEGER PRIMARY KEY, label VARCHAR(20));\n"
    "INSERT INTO bench_m{i} VALUES (1, 'one'), (2, 'two');\n"
)
DOWN = "DROP TABLE bench_m{i};\n"


def write_catalogs(root: Path, count: int) -> tuple[Path, Path, Path]:
    """The same migrations for migrator, yoyo and Django."""
    ours, yoyo, app = root / "ours", root / "yoyo", root / "bench_app"
    for folder in (ours, yoyo, app / "migrations"):
        folder.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    for i in range(1, count + 1):
        up, down = UP.format(i=i), DOWN.format(i=i)
        (ours / f"{i:04d}_m{i}.sql").write_text(
            f"-- === UP MIGRATION ===\n{up}-- === DOWN MIGRATION ===\n{down}"
        )
        (yoyo / f"{i:04d}_m{i}.sql").write_text(up)
        (yoyo / f"{i:04d}_m{i}.rollback.sql").write_text(down)
        previous = f"[('bench_app', '{i - 1:04d}_m{i - 1}')]" if i > 1 else "[]"
        (app / "migrations" / f"{i:04d}_m{i}.py").write_text(
            "from django.db import migrations\n\n"
            f"class Migration(migrations.Migration):\n    dependencies = {previous}\n"
            f"    operations = [migrations.RunSQL({up!r}, {down!r})]\n"
        )
    return ours, yoyo, app


def clean(count: int) -> None:
    from django.apps import apps
    from django.db import connection

    from migrator.models import Deployment, Event, Migration, SchemaVersion

    Event.objects.all().delete()
    SchemaVersion.objects.all().delete()
    Deployment.objects.all().delete()
    Migration.objects.all().delete()
    # Every run starts from a fresh install's bookkeeping, as Django's and yoyo's do (their
    # records are deleted below): the history rows of earlier runs (and of the deletes
    # above) would otherwise grow the file from run to run and the numbers with it.
    historical = [
        model._meta.db_table
        for model in apps.get_app_config("migrator").get_models()
        if model.__name__.startswith("Historical")
    ]
    with connection.cursor() as cursor:
        for table in historical:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
        for i in range(1, count + 1):
            cursor.execute(f"DROP TABLE IF EXISTS bench_m{i}")
        for table in ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'bench_app'")
    # Every tool starts from the same state: the file or the catalogs vacuumed (a thousand
    # dropped tables leave free pages or dead rows the next CREATE TABLEs wade through) and,
    # on PostgreSQL, a fresh checkpoint (so none of them runs while one flushes the
    # previous tool's pages).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        if connection.vendor == "postgresql":
            cursor.execute("CHECKPOINT")


def _execute_directly(template: str, numbers: range) -> float:
    """``template``'s statements for each number in one session, one transaction each."""
    from django.db import connection, transaction

    from migrator.dialects import split_statements

    scripts = [split_statements(connection.vendor, template.format(i=i)) for i in numbers]
    started = time.perf_counter()
    for statements in scripts:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.sql)
    return time.perf_counter() - started


def direct(count: int) -> float:
    """The same statements in one session, one transaction per migration."""
    return _execute_directly(UP, range(1, count + 1))


def direct_down(count: int) -> float:
    """The down statements in one session, one transaction per migration, newest first."""
    return _execute_directly(DOWN, range(count, 0, -1))


def ours_back(count: int) -> float:
    from migrator import services

    started = time.perf_counter()
    deployment = services.rollback("default", actor="bench", count=count, backend="inline")
    elapsed = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    return elapsed


def ours() -> float:
    from migrator import services

    started = time.perf_counter()
    deployment = services.apply("default", actor="bench", backend="inline")
    elapsed = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    return elapsed


def _yoyo_backend() -> Any:
    from django.db import connection
    from yoyo import get_backend

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return get_backend(f"sqlite:///{settings['NAME']}")
    return get_backend(
        f"postgresql+psycopg://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
        f"{settings['NAME']}"
    )


def yoyo(folder: Path) -> float:
    from yoyo import read_migrations

    started = time.perf_counter()
    backend = _yoyo_backend()
    migrations = read_migrations(str(folder))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))
    return time.perf_counter() - started


def yoyo_back(folder: Path) -> float:
    """Rolling back every migration yoyo applied (its ``.rollback.sql`` files)."""
    from yoyo import read_migrations

    backend = _yoyo_backend()
    started = time.perf_counter()
    migrations = read_migrations(str(folder))
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(migrations))
    return time.perf_counter() - started


_DJANGO = textwrap.dedent(
    """
    import os, sys, time, json
    sys.path[:0] = [{root!r}, {apps!r}]
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    import django
    from django.conf import settings
    django.setup()
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS]
    from django.apps import apps
    from django.core.management import call_command
    apps.set_installed_apps([*settings.INSTALLED_APPS, "bench_app"])
    started = time.perf_counter()
    call_command("migrate", "bench_app", *{target!r}, verbosity=0)
    print(json.dumps({{"seconds": time.perf_counter() - started}}))
    """
)


def django_migrate(app: Path, *target: str) -> float:
    """``manage.py migrate bench_app [target]`` in its own process (timed around the
    command); ``zero`` unapplies every migration."""
    code = _DJANGO.format(root=str(ROOT), apps=str(app.parent), target=target)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=os.environ
    ).stdout
    import json

    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def timed(call: object, times: int = 5) -> float:
    values = []
    for _ in range(times):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        values.append(time.perf_counter() - started)
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--warmup", type=int, default=1, help="Untimed runs of each tool first (warm caches)."
    )
    args = parser.parse_args()
    n = args.count
    root = Path(tempfile.mkdtemp(prefix="migrator-bench-"))
    folder, yoyo_folder, app = write_catalogs(root, n)
    django_setup(folder, need_postgres=False)
    from django.db import connection

    from migrator import services

    runs: dict[str, list[float]] = {"direct": [], "migrator": [], "django": [], "yoyo": []}
    tools = (
        ("direct", lambda: direct(n)),
        ("migrator", ours),
        ("django", lambda: django_migrate(app)),
        ("yoyo", lambda: yoyo(yoyo_folder)),
    )
    # A long-lived worker is warm: imports done, statements prepared, caches filled. The
    # first run of each tool in this process is not what a migration costs.
    for _ in range(args.warmup):
        for _name, measure in tools:
            clean(n)
            measure()
    for _ in range(args.repeat):
        for name, measure in tools:
            clean(n)
            runs[name].append(measure())
    # Rolling everything back: each tool from its own fully applied state.
    back: dict[str, list[float]] = {"direct": [], "migrator": [], "django": [], "yoyo": []}
    appliers = (
        ("direct", lambda: direct(n), lambda: direct_down(n)),
        ("migrator", ours, lambda: ours_back(n)),
        ("django", lambda: django_migrate(app), lambda: django_migrate(app, "zero")),
        ("yoyo", lambda: yoyo(yoyo_folder), lambda: yoyo_back(yoyo_folder)),
    )
    for _ in range(args.repeat):
        for name, forward, backward in appliers:
            clean(n)
            forward()
            back[name].append(backward())
    clean(n)
    ours()
    status_seconds = timed(lambda: services.status("default"))
    plan_seconds = timed(lambda: services.plan("default"))
    clean(n)
    base = Sample(runs["direct"])
    overhead = {
        name: Sample([(t - d) / n * 1000 for t, d in zip(runs[name], runs["direct"], strict=True)])
        for name in ("migrator", "django", "yoyo")
    }
    back_overhead = {
        name: Sample([(t - d) / n * 1000 for t, d in zip(back[name], back["direct"], strict=True)])
        for name in ("migrator", "django", "yoyo")
    }
    return report(
        f"{n:,} small SQL migrations on {connection.vendor} (overhead per migration)",
        [
            ("executing the SQL directly (total)", base.text("s")),
            ("migrator apply: overhead", overhead["migrator"].text("ms")),
            ("Django migrate (RunSQL): overhead", overhead["django"].text("ms")),
            ("yoyo-migrations: overhead", overhead["yoyo"].text("ms")),
            ("dropping them directly (total)", Sample(back["direct"]).text("s")),
            ("migrator rollback: overhead", back_overhead["migrator"].text("ms")),
            ("Django migrate zero: overhead", back_overhead["django"].text("ms")),
            ("yoyo rollback: overhead", back_overhead["yoyo"].text("ms")),
            (f"status with {n:,} applied", f"{status_seconds * 1000:>14,.1f} ms"),
            (f"plan with {n:,} applied", f"{plan_seconds * 1000:>14,.1f} ms"),
        ],
        [
            ("migrator < 2 ms per migration", overhead["migrator"].median < 2),
            ("migrator < Django migrate", overhead["migrator"].median < overhead["django"].median),
            ("migrator < yoyo-migrations", overhead["migrator"].median < overhead["yoyo"].median),
            ("migrator rollback < 2 ms per migration", back_overhead["migrator"].median < 2),
            (
                "migrator rollback < Django migrate zero",
                back_overhead["migrator"].median < back_overhead["django"].median,
            ),
            (
                "migrator rollback < yoyo rollback",
                back_overhead["migrator"].median < back_overhead["yoyo"].median,
            ),
            ("status < 300 ms", status_seconds < 0.3),
            ("plan < 300 ms", plan_seconds < 0.3),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
