"""A catalog folder whose files have not changed since the last read gives the same
migrations again without being read: a worker reads the catalog for every deployment it
runs, the console for every page that shows it (a thousand files: about 50 ms of reading,
telling the folder's tool and parsing each time, against a few for checking them).

What a folder's migrations were built from is every folder listed, every entry found and
every file read. They are unchanged when their device, inode, size, modification and change
times all are (the change time cannot be set back by anyone; a file added, removed or
renamed changes its folder's times). Only what was last changed two seconds or more before
the read started is trusted (git's "racily clean" rule): a file changed twice within one
tick of the filesystem's clock, or while it was being read, is read again every time until
it settles. A folder with errors, or with Python migrations (built by importing code, which
may read anything), is read again every time.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import CatalogProblem
from .spec import MigrationSpec

#: How long everything read must have been left alone before the result is kept.
SETTLED_NS = 2_000_000_000
#: Folders kept at most (a process serving many projects' catalogs); then all forgotten.
MAX_KEPT = 256

Signature = tuple[int, int, int, int, int]


@dataclasses.dataclass(frozen=True)
class Kept:
    """A folder's migrations, warnings and flavor, with what they were read from."""

    depends: tuple[tuple[Path, Signature], ...]
    specs: tuple[MigrationSpec, ...]
    warnings: tuple[CatalogProblem, ...]
    flavor: str

    def fresh_specs(self) -> list[MigrationSpec]:
        """Copies the loader may change (it sets options and resolves dependencies);
        steps and file contents are never changed once built, and are shared."""
        return [_copy(spec) for spec in self.specs]


_kept: dict[tuple[Any, ...], Kept] = {}


def signature(path: Path) -> Signature | None:
    """What tells a file or folder changed; None if it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _copy(spec: MigrationSpec) -> MigrationSpec:
    # Field by field (``dataclasses.replace`` costs ten times more: a thousand per read).
    copy = object.__new__(MigrationSpec)
    copy.__dict__.update(spec.__dict__)
    copy.options = dict(spec.options)
    copy.depends_on = None if spec.depends_on is None else list(spec.depends_on)
    return copy


def lookup(key: tuple[Any, ...]) -> Kept | None:
    """What was kept under ``key``, if nothing it was read from changed since."""
    kept = _kept.get(key)
    if kept is None:
        return None
    for path, sig in kept.depends:
        if signature(path) != sig:
            _kept.pop(key, None)  # another thread may have dropped it too
            return None
    return kept


def keep(
    key: tuple[Any, ...],
    *,
    started_ns: int,
    read_from: Iterable[Path],
    specs: list[MigrationSpec],
    warnings: list[CatalogProblem],
    flavor: str,
) -> None:
    """Keep a folder's result (read from ``read_from``, starting at ``started_ns``) if
    everything it was read from had settled; copies, so the caller may change its own."""
    settled = started_ns - SETTLED_NS
    depends = []
    for path in sorted(set(read_from)):
        sig = signature(path)
        if sig is None or sig[3] >= settled or sig[4] >= settled:
            return
        depends.append((path, sig))
    if len(_kept) >= MAX_KEPT:
        _kept.clear()
    _kept[key] = Kept(
        depends=tuple(depends),
        specs=tuple(_copy(spec) for spec in specs),
        warnings=tuple(warnings),
        flavor=flavor,
    )


def now_ns() -> int:
    return time.time_ns()


def forget() -> None:
    """Forget every kept folder (tests; a filesystem whose clock cannot be trusted)."""
    _kept.clear()


__all__ = ["Kept", "forget", "keep", "lookup", "signature"]
