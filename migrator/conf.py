"""Every migrator setting with its default, read from ``settings.MIGRATOR`` when used.

Reading lazily (a property per setting) keeps ``override_settings`` working in tests
and lets a project change ``MIGRATOR`` without restarting imports. Each setting is
documented in docs/settings.md and checked by a system check.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Extra folders holding migrations: a path, or {"path": ..., "database": alias,
    # "format": tool, "foreign_keys": bool, "placeholders": {name: value},
    # "placeholder_replacement": bool}.
    "DIRS": [],
    # Folder name looked for inside every installed app.
    "APP_DIRNAME": "datamigrations",
    # Database alias that app folders and plain DIRS paths target.
    "DEFAULT_DATABASE": "default",
    # Job backend: "inline", "thread", "rq", "celery", or a dotted path to a Backend class.
    "BACKEND": "thread",
    # Queue name used by the rq and celery backends.
    "QUEUE": "default",
    # Default batch size of transform steps, python batch iterators and restores.
    "BATCH_SIZE": 1000,
    # Backups before a run: "auto" (only migrations that have no other way back),
    # "off", "touched" (tables each migration touches) or "tables" (BACKUP_TABLES).
    "BACKUP": "auto",
    # Tables backed up when BACKUP is "tables".
    "BACKUP_TABLES": [],
    # Schema (PostgreSQL) or file folder (SQLite) where backups are stored.
    "BACKUP_SCHEMA": "migrator_backup",
    "BACKUP_DIR": "var/backups",
    # Roll back the whole deployment when one of its steps fails.
    "AUTO_ROLLBACK": True,
    # Seconds between heartbeats (each carries live progress), and the age after which a
    # worker on another host counts as gone.
    "HEARTBEAT_SECONDS": 1.0,
    "STALE_AFTER_SECONDS": 60,
    # Deployments of at most this many runs record the schema after every run; bigger
    # ones after the last run of each release, and at the end.
    "SCHEMA_CAPTURE_MAX_RUNS": 25,
    # migrator's own writes on PostgreSQL use prepared statements (parsed once per
    # connection); off behind a pooler that cannot keep them.
    "PREPARED_STATEMENTS": True,
    # Every step's commit waits for the disk on PostgreSQL. Off: a SQL step whose record
    # commits with it does not wait (the deployment's end does, for everything before it).
    "DURABLE_STEPS": False,
    # On SQLite, consecutive quick SQL migrations commit together (each in its own
    # savepoint, its record with it) for at most this many seconds; 0 commits each alone.
    "GROUP_COMMIT_SECONDS": 0.1,
    # Files that the original tool ignores are errors instead of warnings.
    "STRICT": False,
    # A catalog folder whose files did not change since the last read (same inode, size,
    # modification and change times) is not read again; off where file times lie.
    "CATALOG_REUSE": True,
    # Deployments at or above this risk ("low", "medium", "high") wait for approval by
    # another user with the approve permission; None turns the gate off.
    "APPROVAL_RISK": None,
    # Rollbacks wait for approval too.
    "APPROVE_ROLLBACKS": False,
    # Lint findings of these severities are blocking: `migrator lint` exits 1 on them and,
    # with LINT_GATE on, apply refuses them unless overridden with a reason.
    "LINT_BLOCKING": ["error"],
    "LINT_GATE": False,
    # A lock-risk finding on a table of the target with fewer rows than this counts as
    # info (the lock is brief); linting without a database cannot know and keeps it.
    "LINT_SMALL_TABLE_ROWS": 10_000,
}

BUILTIN_BACKENDS = ("inline", "thread", "rq", "celery")
#: Kept for callers of the first releases.
BACKENDS = BUILTIN_BACKENDS
BACKUP_MODES = ("auto", "off", "touched", "tables")
RISKS = ("low", "medium", "high")


class MigratorSettings:
    """Attribute access to ``settings.MIGRATOR`` merged over :data:`DEFAULTS`."""

    def _get(self, name: str) -> Any:
        user = getattr(django_settings, "MIGRATOR", {}) or {}
        return user.get(name, DEFAULTS[name])

    def __getattr__(self, name: str) -> Any:
        if name in DEFAULTS:
            return self._get(name)
        raise AttributeError(name)

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

    @property
    def SCHEMA_CAPTURE_MAX_RUNS(self) -> int:  # noqa: N802
        return int(self._get("SCHEMA_CAPTURE_MAX_RUNS"))

    @property
    def PREPARED_STATEMENTS(self) -> bool:  # noqa: N802
        return bool(self._get("PREPARED_STATEMENTS"))

    @property
    def GROUP_COMMIT_SECONDS(self) -> float:  # noqa: N802
        return float(self._get("GROUP_COMMIT_SECONDS") or 0)

    @property
    def STRICT(self) -> bool:  # noqa: N802
        return bool(self._get("STRICT"))

    @property
    def APPROVAL_RISK(self) -> str | None:  # noqa: N802
        value = self._get("APPROVAL_RISK")
        return str(value) if value else None

    @property
    def APPROVE_ROLLBACKS(self) -> bool:  # noqa: N802
        return bool(self._get("APPROVE_ROLLBACKS"))

    @property
    def LINT_BLOCKING(self) -> list[str]:  # noqa: N802
        return [str(v) for v in self._get("LINT_BLOCKING")]

    @property
    def LINT_GATE(self) -> bool:  # noqa: N802
        return bool(self._get("LINT_GATE"))

    @property
    def LINT_SMALL_TABLE_ROWS(self) -> int:  # noqa: N802
        return int(self._get("LINT_SMALL_TABLE_ROWS"))

    def unknown_keys(self) -> list[str]:
        """Keys in ``settings.MIGRATOR`` that migrator does not know (likely typos)."""
        user = getattr(django_settings, "MIGRATOR", {}) or {}
        return sorted(set(user) - set(DEFAULTS))


migrator_settings = MigratorSettings()
