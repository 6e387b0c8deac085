"""System checks for misconfiguration, ids ``migrator.E001`` and up."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks
from django.db import connections

from .catalog.sources import configured_sources
from .conf import BACKENDS, BACKUP_MODES, migrator_settings


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
    backend = migrator_settings.BACKEND
    if backend not in BACKENDS:
        errors.append(
            checks.Error(
                f"MIGRATOR['BACKEND'] is {backend!r}, which is not a known job backend.",
                hint=f"Use one of {', '.join(BACKENDS)}.",
                id="migrator.E002",
            )
        )
    elif backend == "rq" and not apps.is_installed("django_rq"):
        errors.append(
            checks.Error(
                "MIGRATOR['BACKEND'] is 'rq' but django_rq is not installed.",
                hint="pip install 'django-migrator[rq]' and add 'django_rq' to INSTALLED_APPS.",
                id="migrator.E004",
            )
        )
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
    return errors
