"""The wheel ships the app with its templates, static files and Django migrations only."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.workers
def test_wheel_contents(tmp_path: Path) -> None:
    # Built from a clean copy: a stale build/ folder in a working tree would otherwise
    # lend the wheel files the sources no longer have.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "var", "build", "dist", ".git", "*.egg-info", "__pycache__", "node_modules"
        ),
    )
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
            str(source),
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
        "migrator/catalog/formats/sections.py",
    ]:
        assert expected in names, expected
    assert not any(n.startswith(("project/", "tests/")) for n in names)


def test_a_host_project_starts_without_loading_the_services() -> None:
    """Every management command of a host project loads the admin: the console names the
    services (catalog readers, engine, SQL parser) but imports them on first use only."""
    code = (
        "import os, sys, django\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'\n"
        "django.setup()\n"
        "from django.urls import reverse\n"
        "reverse('admin:index')\n"  # the admin's URLs, console pages included, resolved
        "heavy = ['migrator.services', 'migrator.catalog.loader', 'migrator.engine.step',"
        " 'pglast']\n"
        "print([name for name in heavy if name in sys.modules])\n"
        "from migrator.admin.console.deferred import services\n"
        "print(services.status.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\n")
    assert out[0] == "[]", out
    assert out[1] == "migrator.services.status", out
