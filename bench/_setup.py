"""Shared setup of the benchmarks: Django on the PostgreSQL of scripts/services.sh."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(catalog: Path, database: str = "default") -> None:
    if not os.environ.get("DATABASE_URL"):
        sys.exit("DATABASE_URL is not set: run `make bench` (it starts PostgreSQL)")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "APP_DIRNAME": "no_such_folder",
        "DIRS": [{"path": str(catalog), "database": database}],
    }


def report(title: str, rows: list[tuple[str, float, str]], checks: list[tuple[str, bool]]) -> int:
    """Print measurements and target checks; return the exit code (1 if a target is missed)."""
    print(f"\n== {title}")
    for name, value, unit in rows:
        print(f"  {name:<44} {value:>14,.2f} {unit}")
    failed = 0
    for name, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
        failed += not ok
    return 1 if failed else 0
