"""Walking a catalog folder: every entry is a file or a folder to read, a known companion
(left alone), or a problem (a broken or looping symbolic link, a FIFO, a device)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from .errors import CatalogProblem

#: Read by the formats themselves, or documentation: never a migration, never a warning.
COMPANION_PREFIXES = ("README", "readme", "Readme", "LICENSE", "CHANGELOG")
COMPANION_NAMES = {"atlas.sum", "__init__.py", "__pycache__", "metadata.toml"}
COMPANION_SUFFIXES = (".sql.conf",)


def is_companion(path: Path) -> bool:
    name = path.name
    return (
        name.startswith(".")
        or name in COMPANION_NAMES
        or name.startswith(COMPANION_PREFIXES)
        or name.endswith(COMPANION_SUFFIXES)
    )


def _kind(path: Path, problems: list[CatalogProblem]) -> str | None:
    """ "file" or "dir"; None (and a problem) for what cannot be a migration."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problems.append(CatalogProblem(str(path), "a symbolic link loop: fix or remove it"))
        elif path.is_symlink():
            problems.append(
                CatalogProblem(
                    str(path), f"a broken symbolic link to {os.readlink(path)}: fix or remove it"
                )
            )
        else:
            problems.append(CatalogProblem(str(path), f"cannot be read: {exc.strerror}"))
        return None
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    what = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    problems.append(CatalogProblem(str(path), f"{what}, not a migration: remove it"))
    return None


def entries(
    folder: Path,
    problems: list[CatalogProblem],
    *,
    descend: Callable[[Path], bool] | None = None,
    walked: list[Path] | None = None,
) -> list[Path]:
    """The files and folders of ``folder`` to read, in name order; companions skipped.

    ``descend(path)``: whether a subfolder is a container to walk into (Flyway's locations
    are recursive) rather than an entry itself. Symbolic links to folders already walked
    are reported as loops instead of walked again. ``walked`` is given every folder
    listed (what the result depends on besides the entries themselves).
    """
    found: list[Path] = []
    seen = {folder.resolve()}

    def walk(directory: Path) -> None:
        if walked is not None:
            walked.append(directory)
        try:
            children = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            problems.append(CatalogProblem(str(directory), f"cannot be listed: {exc.strerror}"))
            return
        for path in children:
            if is_companion(path):
                continue
            kind = _kind(path, problems)
            if kind is None:
                continue
            if kind == "dir" and descend is not None and descend(path):
                real = path.resolve()
                if real in seen:
                    problems.append(
                        CatalogProblem(str(path), "a symbolic link loop: fix or remove it")
                    )
                    continue
                seen.add(real)
                walk(path)
                continue
            found.append(path)

    walk(folder)
    return found
