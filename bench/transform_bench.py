"""Transform throughput on PostgreSQL: the demo's config rename over N tenants.

Compares, in the same run and on the same data:
  - one raw ``UPDATE`` of every row (the limit);
  - migrator's transform (keyset batches, old values captured, checkpoint per batch);
  - a naive ORM loop (``for obj in qs: ...; obj.save()``), on a sample, as rows per second.
and the peak memory (RSS) of a transform over N rows against one over N/10 rows.

Targets: >= 0.6 of the raw UPDATE's throughput, >= 20x the ORM loop, peak memory for N rows
within 20% of that for N/10. Usage: ``python bench/transform_bench.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, django_setup, report

EXPRESSION = (
    "(config - 'maxMemoryMB') || jsonb_build_object('maxMemoryBytes', "
    "(config->>'maxMemoryMB')::bigint * 1048576)"
)
WHERE = "jsonb_exists(config, 'maxMemoryMB')"


def write_catalog(folder: Path, batch_size: int) -> None:
    (folder / "0001_rename.py").write_text(
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        f"    steps = [dsl.Transform(table='sample_tenant', set={{'config': {EXPRESSION!r}}}, "
        f"where={WHERE!r}, batch_size={batch_size})]\n"
    )


def fill(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sample_tenant RESTART IDENTITY CASCADE")
        cursor.execute(
            "INSERT INTO sample_tenant (name, config, created_at) "
            "SELECT 'tenant-' || i, jsonb_build_object('maxMemoryMB', 256 * (1 + i %% 8), "
            "'durabilityMode', (ARRAY['strict','relaxed','none'])[1 + i %% 3], 'region', 'eu-west'), now() "
            "FROM generate_series(1, %s) AS i",
            [rows],
        )
        cursor.execute("VACUUM ANALYZE sample_tenant")


def reset_state() -> None:
    from django.db import connection

    from migrator.models import Deployment, Event, Migration

    Event.objects.all().delete()
    Deployment.objects.all().delete()
    Migration.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND "
            "(tablename LIKE 'migrator\\_cap\\_%%' OR tablename = 'migrator_cursor')"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


def transform(actor: str = "bench") -> float:
    from migrator import services

    reset_state()
    started = time.perf_counter()
    deployment = services.apply("default", actor=actor, backend="inline")
    elapsed = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    return elapsed


def raw_update(rows: int) -> float:
    from django.db import connection, transaction

    fill(rows)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE sample_tenant SET config = {EXPRESSION} WHERE {WHERE}")
        assert cursor.rowcount == rows
    return time.perf_counter() - started


def orm_loop(sample: int) -> float:
    from project.sample.models import Tenant

    fill(sample)
    started = time.perf_counter()
    for tenant in Tenant.objects.all():
        config = dict(tenant.config)
        config["maxMemoryBytes"] = config.pop("maxMemoryMB") * 1048576
        tenant.config = config
        tenant.save()
    return time.perf_counter() - started


def memory_child(rows: int, catalog: Path) -> None:
    """Fill ``rows`` tenants, run the transform, print the process's peak RSS in KiB."""
    django_setup(catalog)
    fill(rows)
    transform()
    print(
        json.dumps({"rows": rows, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
    )


def peak_rss(rows: int, catalog: Path) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(rows), "--catalog", str(catalog)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["maxrss_kib"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-sample", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--memory-child", type=int)
    parser.add_argument("--catalog", type=Path)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.catalog)
        return 0

    catalog = Path(tempfile.mkdtemp(prefix="migrator-bench-"))
    write_catalog(catalog, args.batch_size)
    django_setup(catalog)

    t_raw = raw_update(args.rows)
    fill(args.rows)
    t_ours = transform()
    t_orm = orm_loop(args.orm_sample)
    raw_rate, our_rate, orm_rate = args.rows / t_raw, args.rows / t_ours, args.orm_sample / t_orm
    small, large = peak_rss(args.rows // 10, catalog), peak_rss(args.rows, catalog)
    return report(
        f"transform of {args.rows:,} rows (batch {args.batch_size:,}, capture on, checkpoints on)",
        [
            ("raw UPDATE (rows/s)", raw_rate, "rows/s"),
            ("migrator transform (rows/s)", our_rate, "rows/s"),
            (f"ORM loop on {args.orm_sample:,} rows (rows/s)", orm_rate, "rows/s"),
            ("transform / raw UPDATE", our_rate / raw_rate, "x"),
            ("transform / ORM loop", our_rate / orm_rate, "x"),
            (f"peak RSS, {args.rows // 10:,} rows", small / 1024, "MiB"),
            (f"peak RSS, {args.rows:,} rows", large / 1024, "MiB"),
            ("peak RSS ratio", large / small, "x"),
        ],
        [
            ("transform >= 0.6 x raw UPDATE", our_rate / raw_rate >= 0.6),
            ("transform >= 20 x ORM loop", our_rate / orm_rate >= 20),
            ("peak memory within 20%", large / small <= 1.2),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
