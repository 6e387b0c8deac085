"""System checks report misconfiguration with stable ids."""

from __future__ import annotations

from pathlib import Path

from migrator.checks import check_settings


def ids(settings) -> list[str]:
    return [message.id for message in check_settings()]


def test_demo_settings_are_clean(settings) -> None:
    assert ids(settings) == []


def test_missing_simple_history(settings) -> None:
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "simple_history"]
    assert "migrator.E001" in ids(settings)


def test_unknown_backend(settings) -> None:
    settings.MIGRATOR = {"BACKEND": "carrier-pigeon"}
    assert ids(settings) == ["migrator.E002"]


def test_bad_dirs(settings, tmp_path: Path) -> None:
    settings.MIGRATOR = {
        "DIRS": [str(tmp_path / "nowhere"), {"path": str(tmp_path), "database": "x"}, 42]
    }
    assert ids(settings) == ["migrator.E003"] * 3


def test_rq_backend_without_django_rq(settings) -> None:
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_rq"]
    settings.MIGRATOR = {"BACKEND": "rq"}
    assert ids(settings) == ["migrator.E004"]


def test_bad_backup_mode_and_unknown_key(settings) -> None:
    settings.MIGRATOR = {"BACKUP": "sometimes", "BATCHSIZE": 10}
    assert ids(settings) == ["migrator.E005", "migrator.W001"]
