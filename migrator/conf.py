"""Every migrator setting with its default, read from ``settings.MIGRATOR`` when used.

Reading lazily (a property per setting) keeps ``override_settings`` working in tests
and lets a project change ``MIGRATOR`` without restarting imports.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Extra folders holding migrations: a path, or {"path": ..., "database": alias}.
    "DIRS": [],
    # Folder name looked for inside every installed app.
    "APP_DIRNAME": "datamigrations",
    # Database alias that app folders and plain DIRS paths target.
    "DEFAULT_DATABASE": "default",
    # Job backend: "inline", "thread", "rq" or "celery".
    "BACKEND": "thread",
    # Queue name used by the rq and celery backends.
    "QUEUE": "default",
    # Default batch size of transform steps and python batch iterators.
    "BATCH_SIZE": 1000,
    # Backups before a run: "off", "touched" (tables the migration touches) or "tables".
    "BACKUP": "off",
    # Tables backed up when BACKUP is "tables".
    "BACKUP_TABLES": [],
    # Schema (PostgreSQL) or file folder (SQLite) where backups are stored.
    "BACKUP_SCHEMA": "migrator_backup",
    "BACKUP_DIR": "var/backups",
    # Roll back a run's completed steps when one of its steps fails.
    "AUTO_ROLLBACK": True,
    # Seconds between heartbeats, and age after which a run counts as interrupted.
    "HEARTBEAT_SECONDS": 5,
    "STALE_AFTER_SECONDS": 60,
}

BACKENDS = ("inline", "thread", "rq", "celery")
BACKUP_MODES = ("off", "touched", "tables")


class MigratorSettings:
    """Attribute access to ``settings.MIGRATOR`` merged over :data:`DEFAULTS`."""

    def _get(self, name: str) -> Any:
        user = getattr(django_settings, "MIGRATOR", {}) or {}
        return user.get(name, DEFAULTS[name])

    @property
    def DIRS(self) -> list[Any]:  # noqa: N802 - settings are upper case by convention
        return list(self._get("DIRS"))

    @property
    def APP_DIRNAME(self) -> str:  # noqa: N802
        return str(self._get("APP_DIRNAME"))

    @property
    def DEFAULT_DATABASE(self) -> str:  # noqa: N802
        return str(self._get("DEFAULT_DATABASE"))

    @property
    def BACKEND(self) -> str:  # noqa: N802
        return str(self._get("BACKEND"))

    @property
    def QUEUE(self) -> str:  # noqa: N802
        return str(self._get("QUEUE"))

    @property
    def BATCH_SIZE(self) -> int:  # noqa: N802
        return int(self._get("BATCH_SIZE"))

    @property
    def BACKUP(self) -> str:  # noqa: N802
        return str(self._get("BACKUP"))

    @property
    def BACKUP_TABLES(self) -> list[str]:  # noqa: N802
        return list(self._get("BACKUP_TABLES"))

    @property
    def BACKUP_SCHEMA(self) -> str:  # noqa: N802
        return str(self._get("BACKUP_SCHEMA"))

    @property
    def BACKUP_DIR(self) -> str:  # noqa: N802
        return str(self._get("BACKUP_DIR"))

    @property
    def AUTO_ROLLBACK(self) -> bool:  # noqa: N802
        return bool(self._get("AUTO_ROLLBACK"))

    @property
    def HEARTBEAT_SECONDS(self) -> float:  # noqa: N802
        return float(self._get("HEARTBEAT_SECONDS"))

    @property
    def STALE_AFTER_SECONDS(self) -> float:  # noqa: N802
        return float(self._get("STALE_AFTER_SECONDS"))

    def unknown_keys(self) -> list[str]:
        """Keys in ``settings.MIGRATOR`` that migrator does not know (likely typos)."""
        user = getattr(django_settings, "MIGRATOR", {}) or {}
        return sorted(set(user) - set(DEFAULTS))


migrator_settings = MigratorSettings()
