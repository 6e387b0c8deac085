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


def test_setting_of_the_wrong_type_or_range(settings) -> None:
    settings.MIGRATOR = {
        "BATCH_SIZE": 0,
        "APPROVAL_RISK": "extreme",
        "STRICT": "yes",
        "CATALOG_REUSE": "no",
    }
    messages = check_settings()
    assert [m.id for m in messages] == ["migrator.E008"] * 4
    assert "BATCH_SIZE" in messages[0].msg and "an int >= 1" in messages[0].msg


def test_heartbeat_must_fit_in_the_staleness(settings) -> None:
    settings.MIGRATOR = {"HEARTBEAT_SECONDS": 10, "STALE_AFTER_SECONDS": 15}
    assert ids(settings) == ["migrator.E009"]


def test_backend_by_dotted_path(settings) -> None:
    settings.MIGRATOR = {"BACKEND": "migrator.backends.inline_backend.InlineBackend"}
    assert ids(settings) == []
    settings.MIGRATOR = {"BACKEND": "no.such.Backend"}
    assert ids(settings) == ["migrator.E002"]
    settings.MIGRATOR = {"BACKEND": "migrator.conf.DEFAULTS"}  # importable, not a backend
    assert ids(settings) == ["migrator.E002"]


def test_unsupported_database_backend(settings) -> None:
    # A backend migrator has no dialect for (its vendor is "mysql": MySQL itself cannot run
    # here, and the check only reads the vendor).
    settings.DATABASES = {
        **settings.DATABASES,
        "legacy": {"ENGINE": "tests.fake_mysql", "NAME": ":memory:"},
    }
    from django.db import connections

    connections.settings = connections.configure_settings(settings.DATABASES)
    try:
        settings.MIGRATOR = {"DEFAULT_DATABASE": "legacy", "APP_DIRNAME": "nothing_here"}
        messages = check_settings()
        assert [m.id for m in messages] == ["migrator.E007"]
        assert "'legacy' uses mysql" in messages[0].msg
    finally:
        del settings.DATABASES["legacy"]
        connections.settings = connections.configure_settings(settings.DATABASES)


def test_sqlite_without_immediate_transactions(settings) -> None:
    from django.db import connections

    deferred = {
        **settings.DATABASES,
        "scratch": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    }
    settings.DATABASES = deferred
    connections.settings = connections.configure_settings(deferred)
    try:
        messages = [m for m in check_settings() if m.id == "migrator.W002"]
        assert len(messages) == 1
        assert "'scratch'" in messages[0].msg and "transaction_mode" in messages[0].hint
    finally:
        settings.DATABASES = {k: v for k, v in deferred.items() if k != "scratch"}
        connections.settings = connections.configure_settings(settings.DATABASES)
