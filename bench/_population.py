"""A long history for scale tests and the console benchmark: a catalog of ``migrations``
SQL files (synced, most of them applied) and ``deployments`` finished deployments with
``runs`` runs, one step run each, two events each and a few backups and schema versions,
written with bulk inserts (what years of use leave behind, in seconds)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from migrator.models import Backup, Deployment, Event, Migration, Run, SchemaVersion, StepRun

BATCH = 2000


def admin_models() -> list[str]:
    """migrator's models with admin pages (the console's proxy aside): every list the
    scale test, the console benchmark and the browser test visit."""
    from django.contrib import admin

    return sorted(
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "migrator" and not model._meta.proxy
    )


def write_catalog(folder: Path, migrations: int) -> None:
    """``migrations`` small SQL migrations (the ones already there are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, migrations + 1):
        path = folder / f"{number:05d}_change_{number}.sql"
        if not path.exists():
            release = f"-- Release: {1 + number // 50}.0\n"
            path.write_text(
                f"{release}-- === UP MIGRATION ===\n"
                f"CREATE TABLE t{number} (id INTEGER PRIMARY KEY);\n"
                f"-- === DOWN MIGRATION ===\nDROP TABLE t{number};\n"
            )


def populate(
    folder: Path,
    *,
    migrations: int,
    deployments: int,
    runs: int,
    database: str = "default",
    pending: int = 5,
) -> None:
    """Sync a catalog of ``migrations`` files and add the history on top of what exists."""
    write_catalog(folder, migrations)
    call_command("migrator", "sync", stdout=io.StringIO())
    rows = list(Migration.objects.filter(database=database).order_by("position"))
    applied = rows[: max(0, len(rows) - pending)]
    now = timezone.now()
    Migration.objects.filter(pk__in=[m.pk for m in applied]).update(
        applied=True, applied_at=now, applied_checksum=F("checksum"), applied_by="history"
    )
    start = now - timedelta(days=365)
    made = Deployment.objects.bulk_create(
        [
            Deployment(
                database=database,
                direction="forward" if n % 4 else "backward",
                goal_version=applied[n % len(applied)].version,
                requested_by=f"user{n % 7}",
                status="succeeded" if n % 10 else "rolled_back",
                dry_run=n % 13 == 0,
                started_at=start + timedelta(minutes=n),
                finished_at=start + timedelta(minutes=n, seconds=30),
                plan={"runs": [{"version": applied[n % len(applied)].version}]},
                report={"runs": []},
            )
            for n in range(deployments)
        ],
        batch_size=BATCH,
    )
    Deployment.objects.filter(pk__in=[d.pk for d in made]).update(created_at=F("started_at"))
    per = max(1, runs // max(1, deployments))
    run_rows = [
        Run(
            deployment=deployment,
            migration=applied[(index * per + order) % len(applied)],
            order=order + 1,
            direction=deployment.direction,
            status="succeeded",
            rows_done=order * 10,
            rows_total=order * 10,
            started_at=deployment.started_at,
            finished_at=deployment.finished_at,
        )
        for index, deployment in enumerate(made)
        for order in range(per)
    ][:runs]
    made_runs = Run.objects.bulk_create(run_rows, batch_size=BATCH)
    StepRun.objects.bulk_create(
        [
            StepRun(run=run, name="sql", kind="sql", order=1, step_order=1, status="succeeded")
            for run in made_runs
        ],
        batch_size=BATCH,
    )
    Event.objects.bulk_create(
        [
            Event(
                time=deployment.started_at + timedelta(seconds=second),
                action=action,
                message=f"deployment #{deployment.pk}: {action}",
                actor=deployment.requested_by,
                database=database,
                deployment=deployment,
            )
            for deployment in made
            for second, action in ((0, "started"), (30, "succeeded"))
        ],
        batch_size=BATCH,
    )
    Backup.objects.bulk_create(
        [
            Backup(
                database=database,
                deployment=deployment,
                migration=applied[0],
                tables=[{"table": "t1", "rows": 10, "bytes": 1000}],
                location=f"backup_{deployment.pk}",
                rows=10,
                size_bytes=1000,
            )
            for deployment in made[:20]
        ]
    )
    for migration in applied[-3:]:
        SchemaVersion.objects.update_or_create(
            database=database,
            version=migration.version,
            defaults={"schema": {"tables": {}}, "deployment": made[-1] if made else None},
        )
