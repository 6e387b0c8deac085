"""One big script (a dump turned migration): reading it must take time in proportion to its
size. The catalog reads a folder holding one SQL file of N statements, and then of 10 × N;
the baseline is the smaller one, measured in the same run. Target: per statement, the big
file costs at most twice what the small one does, with each database's splitting rules
(counting the lines before each statement again made this quadratic: 9 minutes for
200,000 statements). Usage: ``python bench/script_size_bench.py [--count 20000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _setup import django_setup, report

ROW = "INSERT INTO big_rows VALUES ({i}, 'row {i}; with a semicolon in its text');"


def write_script(folder: Path, count: int, vendor: str) -> None:
    for old in folder.glob("*.sql"):
        old.unlink()
    # A script of its own per measurement: split statements are cached by their text.
    lines = [f"CREATE TABLE big_rows_{vendor} (id INTEGER PRIMARY KEY, label TEXT);"]
    lines += [ROW.format(i=i) for i in range(count)]
    (folder / "V1__big.sql").write_text("\n".join(lines) + "\n")


def read_seconds(folder: Path, count: int, vendor: str) -> float:
    from migrator.catalog import load_catalog
    from migrator.dialects import split_statements

    write_script(folder, count, vendor)
    started = time.perf_counter()
    load_catalog()  # read, transaction detection, checksums
    statements = split_statements(vendor, (folder / "V1__big.sql").read_text())
    elapsed = time.perf_counter() - started
    assert len(statements) == count + 1 and statements[-1].line == count + 1
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="migrator-script-bench-"))
    django_setup(folder, need_postgres=False)
    rows = []
    checks = []
    for vendor in ("postgresql", "sqlite"):
        small = read_seconds(folder, args.count, vendor)
        big = read_seconds(folder, args.count * 10, vendor)
        ratio = (big / (args.count * 10)) / (small / args.count)
        rows += [
            (f"{vendor}: {args.count:,} statements", f"{small:>10.2f} s"),
            (f"{vendor}: {args.count * 10:,} statements", f"{big:>10.2f} s"),
            (f"{vendor}: per statement, big / small", f"{ratio:>10.2f} ×"),
        ]
        checks.append((f"{vendor}: reading grows with the size (≤ 2 × per statement)", ratio <= 2))
    return report("one big script read by the catalog", rows, checks)


if __name__ == "__main__":
    sys.exit(main())
