"""The compatibility matrix of 50 schema versions of a 100-table schema (each version adds a
column somewhere; row counts and sizes change every time, as in real captures), computed
by ``migrator compat --json`` and rendered by the console's matrix page, on SQLite.

Baseline in the same run: the admin's own list of users. Target: the matrix page under
1 s (median of ``--repeat``). Usage: ``python bench/compat_bench.py [--versions 50]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _setup import ROOT, Sample, django_setup, report

TARGET_MS = 1000.0


def schema(tables: int, version: int) -> dict[str, Any]:
    found = {}
    for t in range(tables):
        columns = {
            f"c{c}": {"type": "integer", "nullable": True, "default": None} for c in range(10)
        }
        if t == version % tables:
            columns[f"added_{version}"] = {"type": "text", "nullable": True, "default": None}
        found[f"t{t:03d}"] = {
            "columns": columns,
            "primary_key": ["c0"],
            "indexes": {
                f"t{t:03d}_i{i}": {"unique": i == 0, "bytes": 8192 * version} for i in range(3)
            },
            "constraints": {},
            "rows": 1000 * version + t,
            "bytes": 65536 * version,
        }
    return {"vendor": "sqlite", "tables": found, "enums": {}, "views": {}, "functions": {}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migrator-compat-bench-"))
    try:
        return measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> int:
    os.environ["MIGRATOR_VAR_DIR"] = str(work)
    os.environ.pop("DATABASE_URL", None)
    django_setup(work / "catalog", need_postgres=False)
    sys.path.insert(0, str(ROOT))

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from migrator.models import SchemaVersion
    from migrator.services import compat

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    SchemaVersion.objects.bulk_create(
        [
            SchemaVersion(
                database="default",
                version=f"{v:03d}",
                schema=schema(args.tables, v),
                active=v == args.versions,
            )
            for v in range(1, args.versions + 1)
        ]
    )
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)

    def timed(call: Any) -> float:
        begin = time.perf_counter()
        call()
        return (time.perf_counter() - begin) * 1000

    def page(url: str) -> Any:
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        return get

    baseline_url = reverse("admin:auth_user_changelist")
    matrix_url = reverse("admin:migrator_console_matrix", args=["default"])
    page(baseline_url)()
    page(matrix_url)()
    samples = {
        "baseline: admin list of users": Sample(
            [timed(page(baseline_url)) for _ in range(args.repeat)]
        ),
        "compat matrix (service)": Sample(
            [timed(lambda: compat.matrix("default")) for _ in range(args.repeat)]
        ),
        "console matrix page": Sample([timed(page(matrix_url)) for _ in range(args.repeat)]),
    }
    baseline = samples["baseline: admin list of users"].median
    rows = [
        (name, f"{sample.text('ms')}  ×{sample.median / baseline:.1f} of baseline")
        for name, sample in samples.items()
    ]
    pairs = args.versions * (args.versions - 1) // 2
    return report(
        f"compatibility matrix: {args.versions} versions ({pairs:,} pairs) of "
        f"{args.tables} tables (SQLite)",
        rows,
        [
            (
                f"console matrix page under {TARGET_MS:.0f} ms",
                samples["console matrix page"].median < TARGET_MS,
            )
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
