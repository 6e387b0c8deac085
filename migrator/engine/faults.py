"""Fault injection for crash tests: kill -9 of this very process (or an exception) at a
named moment of the engine.

Off unless armed. A worker process is armed by the environment variable
``MIGRATOR_FAULTS="<point>[:<n>[:raise|abort|interrupt]]"`` (only the crash tests set
it): with ``step_committed:2`` the process SIGKILLs itself the second time a step's
transaction commits; ``raise`` raises instead, ``abort`` too after rolling back the
default database's transaction behind Django's back (as SQLite does itself on some
errors), ``interrupt`` raises ``KeyboardInterrupt`` (Ctrl-C). Tests
in the same process use :func:`armed`. A real kill at an exact moment is the only way to
test the windows between a commit and the next write; the points are listed in
docs/engine.md.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class InjectedFault(RuntimeError):
    """Raised at an armed point whose action is "raise" (or "abort")."""


def _parse(spec: str) -> dict[str, tuple[int, str]]:
    if not spec:
        return {}
    name, _, rest = spec.partition(":")
    nth, _, action = rest.partition(":")
    return {name: (int(nth or 1), action or "kill")}


_armed = _parse(os.environ.get("MIGRATOR_FAULTS", ""))
_seen: Counter[str] = Counter()


def point(name: str) -> None:
    """Act here if this point is armed (and this is its n-th visit)."""
    if not _armed or name not in _armed:
        return
    nth, action = _armed[name]
    _seen[name] += 1
    if _seen[name] != nth:
        return
    if action == "abort":
        _end_transaction()
    if action in ("raise", "abort"):
        raise InjectedFault(f"fault injected at {name}")
    if action == "interrupt":
        raise KeyboardInterrupt(f"fault injected at {name}")
    os.kill(os.getpid(), signal.SIGKILL)


def _end_transaction() -> None:
    from django.db import connection

    raw = connection.connection
    if raw is not None:
        raw.rollback()


@contextmanager
def armed(name: str, nth: int = 1, action: str = "raise") -> Iterator[None]:
    """Arm one point for the duration of the block (tests in this process)."""
    previous = dict(_armed)
    _armed.clear()
    _armed[name] = (nth, action)
    _seen.clear()
    try:
        yield
    finally:
        _armed.clear()
        _armed.update(previous)
        _seen.clear()
