"""System checks for misconfiguration, ids ``migrator.E001`` and up (docs/settings.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core import checks
from django.db import connections

from .backends import get_backend
from .catalog.sources import configured_sources
from .conf import BACKUP_MODES, BUILTIN_BACKENDS, RISKS, migrator_settings
from .dialects import DIALECTS, is_supported
from .exceptions import MigratorError

SEVERITIES = ("error", "warning", "info")


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if not apps.is_installed("simple_history"):
        errors.append(
            checks.Error(
                "migrator needs django-simple-history for its audit trail.",
                hint="Add 'simple_history' to INSTALLED_APPS.",
                id="migrator.E001",
            )
        )
    errors.extend(_backend())
    _, problems = configured_sources()
    for problem in problems:
        errors.append(
            checks.Error(
                f"{problem.path}: {problem.message}",
                hint="Fix MIGRATOR['DIRS'] or MIGRATOR['DEFAULT_DATABASE'] in settings.",
                id="migrator.E003",
            )
        )
    if migrator_settings.BACKUP not in BACKUP_MODES:
        errors.append(
            checks.Error(
                f"MIGRATOR['BACKUP'] is {migrator_settings.BACKUP!r}.",
                hint=f"Use one of {', '.join(BACKUP_MODES)}.",
                id="migrator.E005",
            )
        )
    for key in migrator_settings.unknown_keys():
        errors.append(
            checks.Warning(
                f"MIGRATOR[{key!r}] is not a migrator setting and is ignored.",
                hint="Check its spelling against the settings documentation.",
                id="migrator.W001",
            )
        )
    if "default" not in connections.databases:
        errors.append(checks.Error("No 'default' database is configured.", id="migrator.E006"))
    else:
        errors.extend(_unsupported_targets())
    errors.extend(_values())
    errors.extend(_sqlite_transactions())
    return errors


def _sqlite_transactions() -> list[checks.CheckMessage]:
    """W002: SQLite databases whose transactions start DEFERRED.

    The console's requests and a deployment's worker write to the same file; a DEFERRED
    transaction that reads, then writes, fails at once with "database is locked" when the
    other wrote meanwhile (SQLite cannot wait for that upgrade). IMMEDIATE transactions
    take the write lock first and wait their turn (the busy ``timeout``).
    """
    found: list[checks.CheckMessage] = []
    for alias, config in connections.databases.items():
        if not str(config.get("ENGINE", "")).endswith("sqlite3"):
            continue
        options = config.get("OPTIONS") or {}
        if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            found.append(
                checks.Warning(
                    f"SQLite database {alias!r} begins transactions DEFERRED: while a "
                    "deployment runs, other writes (the console, the admin) can fail with "
                    "'database is locked'.",
                    hint=(
                        f"Set DATABASES[{alias!r}]['OPTIONS'] = {{'transaction_mode': "
                        "'IMMEDIATE', 'timeout': 30, 'init_command': "
                        "'PRAGMA journal_mode=WAL'}."
                    ),
                    id="migrator.W002",
                )
            )
    return found


def _backend() -> list[checks.CheckMessage]:
    backend = migrator_settings.BACKEND
    try:
        get_backend(backend)
    except MigratorError as exc:
        return [
            checks.Error(
                f"MIGRATOR['BACKEND'] is {backend!r}: {exc}",
                hint=f"Use one of {', '.join(BUILTIN_BACKENDS)}, or a dotted path to a "
                "migrator.backends.Backend subclass.",
                id="migrator.E002",
            )
        ]
    if backend == "rq" and not apps.is_installed("django_rq"):
        return [
            checks.Error(
                "MIGRATOR['BACKEND'] is 'rq' but django_rq is not installed.",
                hint="pip install 'django-migrator[rq]' and add 'django_rq' to INSTALLED_APPS.",
                id="migrator.E004",
            )
        ]
    return []


def _unsupported_targets() -> list[checks.CheckMessage]:
    """Every database migrator would act on must have a dialect (else it would fail in the
    middle of a run, on SQL written for another database)."""
    sources, _ = configured_sources()
    aliases = {source.database for source in sources}
    if migrator_settings.DEFAULT_DATABASE in connections.databases:
        aliases.add(migrator_settings.DEFAULT_DATABASE)
    errors: list[checks.CheckMessage] = []
    for alias in sorted(aliases):
        if not is_supported(alias):
            errors.append(
                checks.Error(
                    f"database {alias!r} uses {connections[alias].vendor}, which migrator does "
                    "not support.",
                    hint=f"Supported: {', '.join(sorted(DIALECTS))}. Point MIGRATOR['DIRS'] at "
                    "a supported database, or add a dialect (migrator.dialects).",
                    id="migrator.E007",
                )
            )
    return errors


#: Each scalar setting: its test, and what it must be (for the message).
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "BATCH_SIZE": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an int >= 1",
    ),
    "HEARTBEAT_SECONDS": (lambda v: isinstance(v, int | float) and v > 0, "a number > 0"),
    "STALE_AFTER_SECONDS": (lambda v: isinstance(v, int | float) and v > 0, "a number > 0"),
    "SCHEMA_CAPTURE_MAX_RUNS": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "an int >= 0",
    ),
    "AUTO_ROLLBACK": (lambda v: isinstance(v, bool), "True or False"),
    "STRICT": (lambda v: isinstance(v, bool), "True or False"),
    "CATALOG_REUSE": (lambda v: isinstance(v, bool), "True or False"),
    "APPROVE_ROLLBACKS": (lambda v: isinstance(v, bool), "True or False"),
    "APPROVAL_RISK": (lambda v: v is None or v in RISKS, f"None or one of {', '.join(RISKS)}"),
    "QUEUE": (lambda v: isinstance(v, str) and bool(v), "a queue name"),
    "APP_DIRNAME": (lambda v: isinstance(v, str) and bool(v), "a folder name"),
    "BACKUP_SCHEMA": (lambda v: isinstance(v, str) and bool(v), "a schema name"),
    "BACKUP_TABLES": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(t, str) for t in v),
        "a list of table names",
    ),
    "LINT_BLOCKING": (
        lambda v: isinstance(v, list | tuple) and all(s in SEVERITIES for s in v),
        f"a list of severities ({', '.join(SEVERITIES)})",
    ),
    "LINT_GATE": (lambda v: isinstance(v, bool), "True or False"),
}


def _values() -> list[checks.CheckMessage]:
    """Type and range of every scalar setting (E008), and how they fit together (E009)."""
    from django.conf import settings

    user = getattr(settings, "MIGRATOR", {}) or {}
    errors: list[checks.CheckMessage] = []
    for key, (valid, expected) in _RULES.items():
        if key in user and not valid(user[key]):
            errors.append(
                checks.Error(
                    f"MIGRATOR[{key!r}] is {user[key]!r}: it must be {expected}.",
                    hint="See the settings documentation (docs/settings.md).",
                    id="migrator.E008",
                )
            )
    if errors:
        return errors
    if migrator_settings.STALE_AFTER_SECONDS <= 2 * migrator_settings.HEARTBEAT_SECONDS:
        errors.append(
            checks.Error(
                "MIGRATOR['STALE_AFTER_SECONDS'] must be more than twice HEARTBEAT_SECONDS, or a "
                "live worker could look dead between two beats.",
                hint="Raise STALE_AFTER_SECONDS or lower HEARTBEAT_SECONDS.",
                id="migrator.E009",
            )
        )
    return errors
