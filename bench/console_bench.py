"""The console and the admin with a long history: 10,000 deployments, 100,000 runs (and as
many step runs), 20,000 events and 1,000 migrations, on the embedded SQLite.

Each page is fetched through Django's test client (the whole request: middleware, session,
admin, templates), warm, ``--repeat`` times; the baseline is the admin's own list of users
(one short table) measured in the same run. Target: every page under 300 ms (median).
Usage: ``python bench/console_bench.py [--deployments 10000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, Sample, django_setup, report

TARGET_MS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--migrations", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="migrator-console-bench-"))
    try:
        return measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> int:
    os.environ["MIGRATOR_VAR_DIR"] = str(work)  # fresh SQLite files
    os.environ.pop("DATABASE_URL", None)
    catalog = work / "catalog"
    django_setup(catalog, need_postgres=False)
    sys.path.insert(0, str(ROOT))

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from bench._population import admin_models, populate
    from migrator.models import Deployment, Migration, Run

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    populate(catalog, migrations=args.migrations, deployments=args.deployments, runs=args.runs)
    print(
        f"history written in {time.perf_counter() - started:.1f} s: "
        f"{Deployment.objects.count():,} deployments, {Run.objects.count():,} runs, "
        f"{Migration.objects.count():,} migrations"
    )
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)

    deployment = Deployment.objects.latest("pk")
    run = Run.objects.filter(deployment=deployment).first()
    migration = Migration.objects.order_by("position").first()
    assert run is not None and migration is not None
    pages = {
        "baseline: admin list of users": reverse("admin:auth_user_changelist"),
        "console dashboard": reverse("admin:migrator_console"),
        "deployment page": reverse("admin:migrator_console_deployment", args=[deployment.pk]),
        "live progress poll": reverse("admin:migrator_console_progress", args=[deployment.pk]),
        "deployment record": reverse("admin:migrator_deployment_change", args=[deployment.pk]),
        "run record": reverse("admin:migrator_run_change", args=[run.pk]),
        "migration record": reverse("admin:migrator_migration_change", args=[migration.pk]),
        "events of a deployment": reverse("admin:migrator_event_changelist")
        + f"?deployment={deployment.pk}",
    }
    for name in admin_models():
        pages[f"{name} list"] = reverse(f"admin:migrator_{name}_changelist")

    def timed(url: str) -> float:
        begin = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - begin) * 1000
        assert response.status_code == 200, (url, response.status_code)
        return elapsed

    samples: dict[str, Sample] = {}
    for name, url in pages.items():
        timed(url)  # warm: templates compiled, caches filled
        samples[name] = Sample([timed(url) for _ in range(args.repeat)])
    baseline = samples["baseline: admin list of users"].median
    rows = [
        (name, f"{sample.text('ms')}  ×{sample.median / baseline:.1f} of baseline")
        for name, sample in samples.items()
    ]
    checks = [
        (f"{name} under {TARGET_MS:.0f} ms", sample.median < TARGET_MS)
        for name, sample in samples.items()
        if not name.startswith("baseline")
    ]
    return report(
        f"console with {args.deployments:,} deployments, {args.runs:,} runs, "
        f"{args.migrations:,} migrations (SQLite)",
        rows,
        checks,
    )


if __name__ == "__main__":
    sys.exit(main())
