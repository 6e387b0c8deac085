"""Versions taken from file names, and their natural order.

Numbers compare numerically (``1.10.0`` follows ``1.9.0``, ``010`` equals ``10``, ``1.0``
equals ``1``). Versions that are dates or timestamps order by time whatever their
punctuation: ``2019-02-26-002946`` (diesel), ``20190226002946`` (dbmate, goose) and
``2019.02.26.002946`` read as the same instant, and all come after plain sequence numbers.
What follows a date after a separator is a time when it looks like one (``0930``,
``002946``: an even count of four or more digits) and a counter otherwise: ``20190226.1``,
``20190226.2`` and ``20190226.10`` are three versions in that order (as Flyway orders
them), not one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from natsort import natsort_keygen

#: ``<version>_<name>``: version is digits with optional dots or dashes (1, 001, 1.10.0,
#: 20240101120000, 2017-08-31-230457); the name is anything (any script).
_PREFIX = re.compile(r"^(?P<version>\d+(?:[.\-]\d+)*)_(?P<name>.+)$")
_SEPARATORS = re.compile(r"[-._:T ]")
_DATE = re.compile(r"^(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")
#: Digits a time of day is compared as (HHMMSS and up to six sub-second digits).
_TIME_WIDTH = 12

_natural = natsort_keygen()
#: ``1.0`` and ``1.0.0`` are version ``1`` (Flyway compares versions part by part, a
#: missing part counting as 0: two such files are one version twice).
_DOTTED = re.compile(r"^\d+(?:\.\d+)+$")
_TRAILING_ZEROS = re.compile(r"(?:\.0+)+$")


def split_versioned_name(stem: str) -> tuple[str, str] | None:
    """Split ``"1.2.0_add_index"`` into ``("1.2.0", "add_index")``; None if unversioned."""
    match = _PREFIX.match(stem)
    if not match:
        return None
    return match.group("version"), match.group("name")


def _time(digits: str) -> int:
    return int(digits.ljust(max(_TIME_WIDTH, len(digits)), "0"))


def date_key(version: str) -> tuple[int, tuple[int, ...]] | None:
    """``(YYYYMMDD, (time or counters...))`` of a version that is a date or timestamp,
    else None."""
    parts = [part for part in _SEPARATORS.split(version) if part]
    if not parts or not all(part.isdigit() for part in parts):
        return None
    if len(parts[0]) >= 8:
        date, attached, rest = parts[0][:8], parts[0][8:], parts[1:]
    elif len(parts) >= 3 and [len(p) for p in parts[:3]] == [4, 2, 2]:
        date, attached, rest = "".join(parts[:3]), "", parts[3:]
    else:
        return None
    if not _DATE.match(date):
        return None
    after: list[int] = []
    if attached:  # 20190226002946: the time, written on
        after.append(_time(attached))
    for index, part in enumerate(rest):
        looks_like_time = index == 0 and not attached and len(part) >= 4 and len(part) % 2 == 0
        after.append(_time(part) if looks_like_time else int(part))
    return int(date), tuple(after)


@lru_cache(maxsize=1 << 16)
def key_of(version: str) -> Any:
    """Sort key of a version: sequence numbers naturally, then dates by time (cached: the
    same versions are compared on every status, plan and page)."""
    date = date_key(version)
    if date is not None:
        return (1, date)
    if _DOTTED.match(version):
        version = _TRAILING_ZEROS.sub("", version)
    return (0, _natural(version))


#: Kept for callers that sorted with it directly.
version_key = key_of
