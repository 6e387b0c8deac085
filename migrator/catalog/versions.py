"""Versions taken from file names, and their natural order.

Numbers compare numerically (``1.10.0`` follows ``1.9.0``, ``010`` equals ``10``). Versions
that are dates or timestamps order by time whatever their punctuation: ``2019-02-26-002946``
(diesel), ``20190226002946`` (dbmate, goose) and ``2019.02.26`` (Flyway) all read as the
same instant, padded on the right, and come after plain sequence numbers.
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
_DATE = re.compile(r"^(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
#: Dates are compared as this many digits (YYYYMMDDHHMMSS plus sub-second parts).
_WIDTH = 20

_natural = natsort_keygen()


def split_versioned_name(stem: str) -> tuple[str, str] | None:
    """Split ``"1.2.0_add_index"`` into ``("1.2.0", "add_index")``; None if unversioned."""
    match = _PREFIX.match(stem)
    if not match:
        return None
    return match.group("version"), match.group("name")


def date_digits(version: str) -> str | None:
    """The digits of a version that is a date or timestamp, else None."""
    digits = _SEPARATORS.sub("", version)
    if len(digits) >= 8 and digits.isdigit() and _DATE.match(digits):
        return digits
    return None


@lru_cache(maxsize=1 << 16)
def key_of(version: str) -> Any:
    """Sort key of a version: sequence numbers naturally, then dates by time (cached: the
    same versions are compared on every status, plan and page)."""
    digits = date_digits(version)
    if digits is not None:
        return (1, int(digits.ljust(max(_WIDTH, len(digits)), "0")))
    return (0, _natural(version))


#: Kept for callers that sorted with it directly.
version_key = key_of
