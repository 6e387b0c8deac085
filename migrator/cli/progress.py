"""Progress output for the CLI: a bar on a terminal, timestamped lines for cron logs."""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from typing import IO, Any

from tqdm import tqdm

from ..engine.progress import Snapshot


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class TerminalReporter:
    """One tqdm bar per step, with rows, rate and ETA."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.bar: Any = None
        self.key: tuple[str, str] | None = None

    def __call__(self, snap: Snapshot) -> None:
        key = (snap.migration, snap.step)
        if key != self.key:
            self.close()
            self.key = key
            # A terminal that reports no size (0 x 0) would get no bar at all: fall back.
            size = shutil.get_terminal_size((100, 20))
            self.bar = tqdm(
                total=snap.total,
                desc=f"{snap.migration} {snap.step}"[:40],
                unit="rows",
                file=self.stream,
                ncols=size.columns or 100,
                nrows=size.lines or 20,
                leave=True,
            )
        if snap.total is not None and self.bar.total != snap.total:
            self.bar.total = snap.total
        self.bar.update(max(snap.done - self.bar.n, 0))
        if snap.finished:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LineReporter:
    """Plain lines, at most one every ``every`` seconds per step, plus each step's end."""

    def __init__(self, stream: IO[str], every: float = 10.0):
        self.stream = stream
        self.every = every
        self.last: dict[tuple[str, str], float] = {}

    def __call__(self, snap: Snapshot) -> None:
        key = (snap.migration, snap.step)
        now = time.monotonic()
        first = key not in self.last
        if not (first or snap.finished or now - self.last[key] >= self.every):
            return
        self.last[key] = now
        total = f"/{snap.total}" if snap.total is not None else ""
        eta = (
            f", eta {snap.eta_seconds:.0f}s"
            if snap.eta_seconds is not None and not snap.finished
            else ""
        )
        state = "done" if snap.finished else "running"
        self.stream.write(
            f"{_stamp()} {snap.migration} {snap.step}: {state}, {snap.done}{total} rows, {snap.rate:.0f} rows/s{eta}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        return None


def reporter_for(stream: Any) -> TerminalReporter | LineReporter:
    raw = getattr(stream, "_out", stream)  # Django's OutputWrapper keeps the real stream here
    if hasattr(raw, "isatty") and raw.isatty():
        return TerminalReporter(raw)
    return LineReporter(raw)
