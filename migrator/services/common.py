"""Checks every service starts with."""

from __future__ import annotations

from django.db import connections
from django.db.utils import DatabaseError

from ..exceptions import BadInput
from ..models import Migration


def require_tables() -> None:
    try:
        Migration.objects.exists()
    except DatabaseError as exc:
        raise BadInput(
            "migrator's tables are missing: run `python manage.py migrate` first"
        ) from exc


def check_database(database: str) -> None:
    if database not in connections.databases:
        raise BadInput(
            f"unknown database alias {database!r}: use one of {sorted(connections.databases)}"
        )
