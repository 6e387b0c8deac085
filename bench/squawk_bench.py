"""``migrator lint`` against squawk on real public PostgreSQL migrations (bench/corpus/,
sources in its README): for the rules both tools have, how many of squawk's findings we
also find, what we find that squawk has no rule for, and the time per migration of each.

Only forward SQL is compared (squawk reads a goose file's Down section too; a down part
naturally drops what its up part made). Target: at least 90% of squawk's findings on
shared rules. Usage: ``python bench/squawk_bench.py [--corpus DIR] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _setup import ROOT, Sample, django_setup, report


def forward_sql(path: Path) -> tuple[str, int | None]:
    """The forward SQL of a migration file, and the 0-based line its down part starts on
    (goose files), for squawk's findings to be compared on the same statements."""
    from migrator.catalog.formats import sections

    text = path.read_text()
    if "+goose" in text.lower():
        down_line = next(
            (n for n, line in enumerate(text.split("\n")) if "+goose down" in line.lower()), None
        )
        return sections.goose(path, text).up, down_line
    return text, None


def ours(files: list[Path]) -> tuple[Counter[tuple[str, str]], float]:
    from migrator.catalog.spec import MigrationSpec, StepSpec
    from migrator.schema.lint import lint_migration

    found: Counter[tuple[str, str]] = Counter()
    started = time.perf_counter()
    for path in files:
        sql, _ = forward_sql(path)
        spec = MigrationSpec(
            version=path.stem,
            name=path.stem,
            database="default",
            format="sql",
            source=path,
            parts=[],
            steps=[StepSpec(name=path.stem, kind="sql", forward=sql, backward="SELECT 1")],
        )
        for finding in lint_migration(spec, "postgresql"):
            found[(path.name, finding.check.id)] += 1
    return found, time.perf_counter() - started


def squawk(files: list[Path], executable: str) -> tuple[Counter[tuple[str, str]], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [executable, "--reporter", "json", *map(str, files)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    found: Counter[tuple[str, str]] = Counter()
    downs = {path.name: forward_sql(path)[1] for path in files}
    for item in json.loads(result.stdout or "[]"):
        name = Path(item["file"]).name
        down = downs.get(name)
        if down is not None and item["line"] >= down:
            continue  # the down part: not compared
        found[(name, item["rule_name"])] += 1
    return found, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    executable = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    if not Path(executable).exists():
        sys.exit("squawk not found: pip install squawk-cli (a dev dependency)")
    django_setup(args.corpus, need_postgres=False)
    from migrator.schema.lint import CHECKS

    files = sorted(args.corpus.glob("*.sql"))
    shared = {check.squawk: key for key, check in CHECKS.items() if check.squawk}
    theirs, _ = squawk(files, executable)
    mine, _ = ours(files)
    matched = total = 0
    missed: list[str] = []
    for (name, rule), count in sorted(theirs.items()):
        if rule not in shared:
            continue
        total += count
        hit = min(count, mine[(name, shared[rule])])
        matched += hit
        if hit < count:
            missed.append(f"{name}: {rule} ({count - hit})")
    only_ours = sum(
        n
        for (name, key), n in mine.items()
        if CHECKS[key].squawk not in {r for (f, r) in theirs if f == name}
    )
    their_time = Sample(
        [squawk(files, executable)[1] * 1000 / len(files) for _ in range(args.repeat)]
    )
    our_time = Sample([ours(files)[1] * 1000 / len(files) for _ in range(args.repeat)])
    recall = matched / total if total else 1.0
    rows = [
        ("migrations in the corpus", f"{len(files):>14}"),
        ("squawk findings on shared rules (forward SQL)", f"{total:>14}"),
        ("... also found by migrator lint", f"{matched:>14}  ({recall:.0%})"),
        ("migrator findings squawk has no finding for", f"{only_ours:>14}"),
        ("squawk: time per migration (one process)", their_time.text("ms")),
        ("migrator lint: time per migration (in process)", our_time.text("ms")),
    ]
    rows += [("missed", m) for m in missed]
    return report(
        "migrator lint vs squawk",
        rows,
        [("at least 90% of squawk's shared findings", recall >= 0.9)],
    )


if __name__ == "__main__":
    sys.exit(main())
