"""Fault injection for crash tests: kill -9 of this very process at a named moment.

Off unless the environment variable ``MIGRATOR_FAULTS`` is set, which only the crash tests
do: ``MIGRATOR_FAULTS="step_committed:2"`` makes the process SIGKILL itself the second
time a step's transaction commits. A real kill at an exact moment is the only way to test
the windows between a commit and the next write (the points are listed in docs/engine.md).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_WANTED = os.environ.get("MIGRATOR_FAULTS", "")
_seen: Counter[str] = Counter()


def point(name: str) -> None:
    """Die here if ``MIGRATOR_FAULTS`` names this point (and this is its n-th visit)."""
    if not _WANTED:
        return
    wanted, _, nth = _WANTED.partition(":")
    if wanted != name:
        return
    _seen[name] += 1
    if _seen[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
