"""The wheel ships the app with its templates, static files and Django migrations only."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.workers
def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in [
        "migrator/templates/migrator/console/dashboard.html",
        "migrator/static/migrator/console.js",
        "migrator/static/migrator/console.css",
        "migrator/migrations/0001_initial.py",
        "migrator/management/commands/migrator.py",
        "migrator/catalog/formats/goose.py",
    ]:
        assert expected in names, expected
    assert not any(n.startswith(("project/", "tests/")) for n in names)
