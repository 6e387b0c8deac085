"""Per-migration overhead: applying a catalog of N small SQL migrations with migrator,
against executing the same SQL directly (one transaction per migration), same run.

Target: overhead under 10 ms per migration. Usage: ``python bench/catalog_bench.py [--count 200]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _setup import django_setup, report

UP = "CREATE TABLE bench_m{i} (id INTEGER PRIMARY KEY, label VARCHAR(20));\nINSERT INTO bench_m{i} VALUES (1, 'one'), (2, 'two');"
DOWN = "DROP TABLE bench_m{i};"


def write_catalog(folder: Path, count: int) -> None:
    for i in range(1, count + 1):
        (folder / f"{i:04d}_m{i}.sql").write_text(
            f"-- === UP MIGRATION ===\n{UP.format(i=i)}\n-- === DOWN MIGRATION ===\n{DOWN.format(i=i)}\n"
        )


def clean(count: int) -> None:
    from django.db import connections

    from migrator.models import Deployment, Event, Migration, SchemaVersion

    Event.objects.all().delete()
    Deployment.objects.all().delete()
    Migration.objects.all().delete()
    SchemaVersion.objects.all().delete()
    with connections["analytics"].cursor() as cursor:
        for i in range(1, count + 1):
            cursor.execute(f"DROP TABLE IF EXISTS bench_m{i}")


def direct(count: int) -> float:
    """The same statements, split the same way, one transaction per migration."""
    from django.db import connections, transaction

    from migrator.engine.sql import split

    scripts = [split(UP.format(i=i)) for i in range(1, count + 1)]
    connection = connections["analytics"]
    started = time.perf_counter()
    for statements in scripts:
        with transaction.atomic(using="analytics"), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.sql)
    return time.perf_counter() - started


def with_migrator() -> tuple[float, int]:
    from migrator import services

    started = time.perf_counter()
    deployment = services.apply("analytics", actor="bench", backend="inline")
    elapsed = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    return elapsed, deployment.runs.count()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    catalog = Path(tempfile.mkdtemp(prefix="migrator-catalog-bench-"))
    write_catalog(catalog, args.count)
    django_setup(catalog, database="analytics")

    clean(args.count)
    t_direct = direct(args.count)
    clean(args.count)
    t_ours, runs = with_migrator()
    clean(args.count)
    assert runs == args.count
    overhead_ms = (t_ours - t_direct) / args.count * 1000
    return report(
        f"applying {args.count} small SQL migrations (PostgreSQL)",
        [
            ("direct execution, total", t_direct * 1000, "ms"),
            ("migrator apply (plan, sync, run, audit), total", t_ours * 1000, "ms"),
            ("overhead per migration", overhead_ms, "ms"),
        ],
        [("overhead per migration < 10 ms", overhead_ms < 10)],
    )


if __name__ == "__main__":
    sys.exit(main())
