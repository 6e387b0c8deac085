"""Transform and rollback throughput on PostgreSQL (fsync on, as production runs).

The demo's config rename over N tenants, measured in the same run on the same data:
  - one raw ``UPDATE`` of every row, and the raw reverse ``UPDATE`` (the limits);
  - migrator's transform (keyset batches, old values captured, checkpoint per batch) and
    its rollback (captured values put back, batch by batch);
  - Django's honest alternatives: ``queryset.update()`` in key-range batches, and a
    per-row ``save()`` loop on a sample;
  - peak memory (RSS) of a transform over N rows against one over N/10 rows.
Each figure is the median of ``--repeat`` runs (min and max printed).

Targets: transform >= 0.8 x the raw UPDATE's throughput; rollback >= 0.7 x the raw reverse
UPDATE's; transform >= 20 x the save() loop; peak memory for N rows within 20% of N/10.
Usage: ``python bench/transform_bench.py [--rows 1000000] [--repeat 3]``.
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

from _setup import ROOT, django_setup, repeat, report

FORWARD = (
    "(config - 'maxMemoryMB') || jsonb_build_object('maxMemoryBytes', "
    "(config->>'maxMemoryMB')::bigint * 1048576)"
)
BACKWARD = (
    "(config - 'maxMemoryBytes') || jsonb_build_object('maxMemoryMB', "
    "(config->>'maxMemoryBytes')::bigint / 1048576)"
)
WHERE = "jsonb_exists(config, 'maxMemoryMB')"


def write_catalog(folder: Path, batch_size: int) -> None:
    (folder / "0001_rename.py").write_text(
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        f"    steps = [dsl.Transform(table='sample_tenant', set={{'config': {FORWARD!r}}}, "
        f"where={WHERE!r}, batch_size={batch_size})]\n"
    )


def fill(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sample_tenant RESTART IDENTITY CASCADE")
        cursor.execute(
            "INSERT INTO sample_tenant (name, config, created_at) "
            "SELECT 'tenant-' || i, jsonb_build_object('maxMemoryMB', 256 * (1 + i %% 8), "
            "'durabilityMode', (ARRAY['strict','relaxed','none'])[1 + i %% 3], "
            "'region', 'eu-west'), now() FROM generate_series(1, %s) AS i",
            [rows],
        )
        cursor.execute("VACUUM ANALYZE sample_tenant")
        cursor.execute("CHECKPOINT")


def reset_state() -> None:
    from django.db import connection

    from migrator.models import Deployment, Event, Migration, SchemaVersion

    Event.objects.all().delete()
    SchemaVersion.objects.all().delete()
    Deployment.objects.all().delete()
    Migration.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND "
            "(tablename LIKE 'migrator\\_cap\\_%%' OR tablename = 'migrator_checkpoint')"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


def raw(rows: int) -> tuple[float, float]:
    """Seconds of one UPDATE of every row, then of the reverse UPDATE."""
    from django.db import connection, transaction

    fill(rows)
    times = []
    for expression, where in (
        (FORWARD, WHERE),
        (BACKWARD, "jsonb_exists(config, 'maxMemoryBytes')"),
    ):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE sample_tenant SET config = {expression} WHERE {where}")
            assert cursor.rowcount == rows
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def ours(rows: int) -> tuple[float, float]:
    """Seconds of migrator's transform, then of its rollback, from a fresh table."""
    from migrator import services

    fill(rows)
    reset_state()
    started = time.perf_counter()
    deployment = services.apply("default", actor="bench", backend="inline")
    forward = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    started = time.perf_counter()
    deployment = services.rollback("default", actor="bench", backend="inline")
    backward = time.perf_counter() - started
    assert deployment.status == "succeeded", deployment.error
    return forward, backward


def orm_batched_update(rows: int, batch: int) -> float:
    """``queryset.update()`` over key ranges of ``batch`` rows, each in its own transaction."""
    from django.db.models.expressions import RawSQL

    from project.sample.models import Tenant

    fill(rows)
    started = time.perf_counter()
    for low in range(0, rows, batch):
        Tenant.objects.filter(pk__gt=low, pk__lte=low + batch).update(
            config=RawSQL(FORWARD.replace("%", "%%"), ())
        )
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
    reset_state()
    from migrator import services

    assert services.apply("default", actor="bench", backend="inline").status == "succeeded"
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
    parser.add_argument("--repeat", type=int, default=3)
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
    n = args.rows
    raw_times = [raw(n) for _ in range(args.repeat)]
    our_times = [ours(n) for _ in range(args.repeat)]
    from _setup import Sample

    raw_fwd = Sample([n / f for f, _ in raw_times])
    raw_back = Sample([n / b for _, b in raw_times])
    fwd = Sample([n / f for f, _ in our_times])
    back = Sample([n / b for _, b in our_times])
    fwd_ratio = Sample([(n / o[0]) / (n / r[0]) for o, r in zip(our_times, raw_times, strict=True)])
    back_ratio = Sample(
        [(n / o[1]) / (n / r[1]) for o, r in zip(our_times, raw_times, strict=True)]
    )
    batched = repeat(args.repeat, lambda: n / orm_batched_update(n, args.batch_size))
    loop = repeat(1, lambda: args.orm_sample / orm_loop(args.orm_sample))
    small, large = peak_rss(n // 10, catalog), peak_rss(n, catalog)
    return report(
        f"transform of {n:,} rows (batch {args.batch_size:,}, capture and checkpoints on, "
        "fsync on)",
        [
            ("raw UPDATE", raw_fwd.text("rows/s")),
            ("migrator transform", fwd.text("rows/s")),
            ("  transform / raw UPDATE", fwd_ratio.text("x")),
            ("raw reverse UPDATE", raw_back.text("rows/s")),
            ("migrator rollback (captured values restored)", back.text("rows/s")),
            ("  rollback / raw reverse UPDATE", back_ratio.text("x")),
            (f"Django queryset.update() in batches of {args.batch_size:,}", batched.text("rows/s")),
            (f"Django save() loop on {args.orm_sample:,} rows", loop.text("rows/s")),
            ("  transform / queryset.update() batches", f"{fwd.median / batched.median:>14,.2f} x"),
            ("  transform / save() loop", f"{fwd.median / loop.median:>14,.2f} x"),
            (f"peak RSS, {n // 10:,} rows", f"{small / 1024:>14,.1f} MiB"),
            (f"peak RSS, {n:,} rows", f"{large / 1024:>14,.1f} MiB"),
        ],
        [
            ("transform >= 0.8 x raw UPDATE (median)", fwd_ratio.median >= 0.8),
            ("rollback >= 0.7 x raw reverse UPDATE (median)", back_ratio.median >= 0.7),
            ("transform >= 20 x save() loop", fwd.median / loop.median >= 20),
            ("peak memory within 20%", large / small <= 1.2),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
