"""Shared setup of the benchmarks: Django on the PostgreSQL of scripts/services.sh."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(catalog: Path, database: str = "default", need_postgres: bool = True) -> None:
    if need_postgres and not os.environ.get("DATABASE_URL"):
        sys.exit("DATABASE_URL is not set: run `make bench` (it starts PostgreSQL)")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    # As production runs (DEBUG keeps every query in memory); inherited by subprocesses.
    os.environ["DJANGO_DEBUG"] = "0"
    import django
    from django.conf import settings

    django.setup()
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "APP_DIRNAME": "no_such_folder",
        "DIRS": [{"path": str(catalog), "database": database}],
    }


class Sample:
    """Repeated measurements of one quantity: median, min and max."""

    def __init__(self, values: list[float]):
        self.values = values

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, unit: str) -> str:
        return (
            f"{self.median:>14,.2f} {unit}  (min {min(self.values):,.2f}, "
            f"max {max(self.values):,.2f}, n={len(self.values)})"
        )


def repeat(times: int, measure: Callable[[], float]) -> Sample:
    return Sample([measure() for _ in range(times)])


def report(title: str, rows: list[tuple[str, str]], checks: list[tuple[str, bool]]) -> int:
    """Print measurements and target checks; return the exit code (1 if a target is missed)."""
    print(f"\n== {title}")
    for name, text in rows:
        print(f"  {name:<48} {text}")
    failed = 0
    for name, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
        failed += not ok
    return 1 if failed else 0
