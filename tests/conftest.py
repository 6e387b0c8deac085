"""Shared fixtures: an isolated catalog folder per test and a CLI runner with exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str) -> CliResult:
    """Run ``manage.py migrator ARGS`` in-process; return its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("migrator", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def catalog_dir(settings: Any, tmp_path: Path) -> Path:
    """An empty catalog folder that is the only source of migrations for ``default``."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    settings.MIGRATOR = {
        **getattr(settings, "MIGRATOR", {}),
        "APP_DIRNAME": "no_such_folder",
        "DIRS": [str(folder)],
    }
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


MARKER_SQL = """-- Description: {desc}
-- === UP MIGRATION ===
{up}
-- === DOWN MIGRATION ===
{down}
"""


def marker_sql(up: str, down: str = "", desc: str = "test") -> str:
    return MARKER_SQL.format(up=up, down=down, desc=desc)


def pytest_report_header(config: Any) -> str:
    from django.conf import settings

    return f"migrator tests on {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
