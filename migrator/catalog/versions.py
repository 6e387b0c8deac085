"""Versions taken from file names, and their natural order."""

from __future__ import annotations

import re
from typing import Any

from natsort import natsort_keygen

#: ``<version>_<name>``: version is digits with optional dots (1, 001, 1.10.0, 20240101120000).
_PREFIX = re.compile(r"^(?P<version>\d+(?:\.\d+)*)_(?P<name>[A-Za-z0-9].*)$")

#: Natural order: numbers compare numerically, so 1.10.0 follows 1.9.0 and 010 equals 10.
version_key = natsort_keygen()


def split_versioned_name(stem: str) -> tuple[str, str] | None:
    """Split ``"1.2.0_add_index"`` into ``("1.2.0", "add_index")``; None if unversioned."""
    match = _PREFIX.match(stem)
    if not match:
        return None
    return match.group("version"), match.group("name")


def key_of(version: str) -> Any:
    return version_key(version)
