"""Migrations built from files that have not changed since the last read are reused, not
parsed again: a worker reads the catalog for every deployment it runs, the console for
every page that shows it (a thousand files: about 50 ms of parsing each time).

What a migration was built from is every file its format read and every folder holding
what it claimed (a file added next to it, such as a Flyway script config or a diesel
``metadata.toml``, changes the folder). They are unchanged when their device, inode, size,
modification and change times all are; the change time cannot be set back by anyone.
Only files and folders last changed two seconds or more before the build started are
trusted (git's "racily clean" rule): a file changed twice within one tick of the
filesystem's clock, or while it was being read, is read again every time until it
settles. Formats that import code (Python migrations) are never reused.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from .errors import CatalogProblem
from .formats.base import Claim, ReadContext
from .spec import MigrationSpec

#: How long a file must have been left alone before its migration is kept for reuse.
SETTLED_NS = 2_000_000_000
#: Kept migrations beyond which all are forgotten (several catalogs of many thousands).
MAX_KEPT = 50_000

Signature = tuple[int, int, int, int, int]


@dataclasses.dataclass(frozen=True)
class _Kept:
    depends: tuple[tuple[Path, Signature], ...]
    spec: MigrationSpec
    warnings: tuple[CatalogProblem, ...]


_kept: dict[tuple[Any, ...], _Kept] = {}


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _copy(spec: MigrationSpec) -> MigrationSpec:
    """A copy the loader may change (it sets options and resolves dependencies); steps
    and file contents are never changed once built, and are shared."""
    return dataclasses.replace(
        spec,
        options=dict(spec.options),
        depends_on=None if spec.depends_on is None else list(spec.depends_on),
    )


def build(claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
    """``claims[0].format.build(claims, ctx)``, or the same migration built before from
    the same, unchanged files (with the warnings its build gave)."""
    fmt = claims[0].format
    if not fmt.reusable:
        return fmt.build(claims, ctx)
    key = (
        fmt.name,
        ctx.flavor,
        ctx.vendor,
        ctx.database,
        tuple((c.role, c.version, c.name, c.path) for c in claims),
    )
    kept = _kept.get(key)
    if kept is not None and all(_signature(path) == sig for path, sig in kept.depends):
        ctx.warnings.extend(kept.warnings)
        return _copy(kept.spec)
    started = time.time_ns()
    ctx.touched.clear()
    warned = len(ctx.warnings)
    spec = fmt.build(claims, ctx)
    paths = {c.path.parent for c in claims} | {c.path for c in claims} | ctx.touched
    depends = tuple((path, _signature(path)) for path in sorted(paths))
    settled = started - SETTLED_NS
    if all(sig is not None and sig[3] < settled and sig[4] < settled for _, sig in depends):
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        _kept[key] = _Kept(
            depends=depends,  # type: ignore[arg-type]  # no None: checked just above
            spec=_copy(spec),
            warnings=tuple(ctx.warnings[warned:]),
        )
    return spec


def forget() -> None:
    """Forget every kept migration (tests; a filesystem whose clock cannot be trusted)."""
    _kept.clear()


__all__ = ["build", "forget"]
