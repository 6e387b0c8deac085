"""What every handler shares."""

from __future__ import annotations

from typing import Any

from ..conf import migrator_settings
from ..dialects import dialect_for

Options = dict[str, Any]


def verbosity(options: Options) -> int:
    return int(options.get("verbosity", 1))


def database_of(options: Options) -> str:
    return str(options.get("database") or migrator_settings.DEFAULT_DATABASE)


def vendor_of(database: str) -> str:
    try:
        return dialect_for(database).vendor
    except Exception:  # noqa: BLE001 - rendering only
        return ""
