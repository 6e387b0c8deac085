"""What a forward plan will cost before it runs, from the target's own data and history:
how long it should take, which table locks it holds and for how long, whether it needs
downtime, how exactly it can be taken back and what a rollback restores, and whether the
disk has room for its backups and captured values.

- **Duration**: per migration, its last run on this target, else earlier runs' rate (rows
  per second) times the rows of the tables it transforms, else the median of earlier runs
  of its kind (:mod:`.paths`); unknown when nothing comparable ran here.
- **Locks**: the table locks its statements take (as ``lint`` reads them), with the
  table's real size; a lock taken inside a step's transaction is held until the step
  commits, so up to the migration's estimated time.
- **Downtime**: declared by a migration (``requires_downtime``), or needed in effect where
  a lock blocking reads or writes is held on a table with at least
  ``LINT_SMALL_TABLE_ROWS`` rows.
- **Reversibility**: ``exact`` (backward SQL, callables or captured values), ``by backup``
  (a backup is taken first for what has no exact way back) or ``impossible``; with the
  rollback's cost: the rows (and bytes) its backups and captured values put back.
- **Disk**: the bytes backups and captures need against the free space of the database's
  disk, where migrator can see it (SQLite's file; a PostgreSQL server on this host).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog.spec import MigrationSpec
from ..conf import migrator_settings
from ..engine.backups import tables_for
from ..engine.kinds.base import WayBack
from ..engine.target import Target
from ..schema.lint import Finding
from ..schema.lint.locks import BLOCKS_APPLICATION, BY_STRENGTH
from .lint import lint_plan
from .paths import estimate_run, rates_of, transformed_tables
from .planning import Plan


@dataclass
class Estimate:
    """The cost of a plan; :meth:`as_dict` is the ``estimate`` of ``plan --readiness --json``."""

    database: str
    seconds: float | None = None
    estimated_runs: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)
    locks: list[dict[str, Any]] = field(default_factory=list)
    downtime: list[str] = field(default_factory=list)
    reversibility: str = "exact"
    not_exact: list[str] = field(default_factory=list)
    rollback_rows: int = 0
    rollback_bytes: int | None = 0
    disk_needed_bytes: int | None = 0
    disk_free_bytes: int | None = None

    @property
    def disk_ok(self) -> bool | None:
        if self.disk_free_bytes is None or self.disk_needed_bytes is None:
            return None
        return self.disk_needed_bytes < self.disk_free_bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "seconds": self.seconds,
            "estimated_runs": self.estimated_runs,
            "runs": self.runs,
            "locks": self.locks,
            "downtime": self.downtime,
            "reversibility": self.reversibility,
            "not_exact": self.not_exact,
            "rollback_rows": self.rollback_rows,
            "rollback_bytes": self.rollback_bytes,
            "disk_needed_bytes": self.disk_needed_bytes,
            "disk_free_bytes": self.disk_free_bytes,
            "disk_ok": self.disk_ok,
        }


def estimate(result: Plan) -> Estimate:
    """What ``result`` (a forward plan) should cost on its target, as it is now."""
    found = Estimate(result.database)
    if result.direction != "forward" or result.catalog is None:
        return found
    target = Target(result.database)
    rates = rates_of(result.database)
    findings = lint_plan(result).findings
    sizes: dict[str, tuple[int, int | None]] = {}
    existing = set(target.dialect.user_tables())
    known: list[float] = []
    for run in result.runs:
        spec = result.catalog.get(result.database, run.version)
        seconds, basis = estimate_run(result.database, run.version, run.kind, spec, rates)
        if seconds is not None:
            known.append(seconds)
        locks = _locks(findings, run.version, seconds)
        found.locks.extend(locks)
        if run.requires_downtime:
            found.downtime.append(f"{run.version} declares that it needs downtime")
        for lock in locks:
            if lock["blocks_application"] and (lock["table_rows"] or 0) >= (
                migrator_settings.LINT_SMALL_TABLE_ROWS
            ):
                found.downtime.append(
                    f"{run.version} holds {lock['lock']} on {lock['table']} "
                    f"({lock['table_rows']:,} rows): blocks {lock['blocks']}"
                )
        restore_rows, restore_bytes = _restore_cost(run, spec, target, existing, sizes)
        found.rollback_rows += restore_rows
        found.rollback_bytes = _add(found.rollback_bytes, restore_bytes)
        if not WayBack(run.way_back).exact:
            found.not_exact.append(run.version)
        found.runs.append(
            {
                "version": run.version,
                "seconds": seconds,
                "basis": basis,
                "way_back": run.way_back,
                "restore_rows": restore_rows,
                "restore_bytes": restore_bytes,
                "locks": locks,
            }
        )
    found.seconds = round(sum(known), 3) if known else None
    found.estimated_runs = len(known)
    found.reversibility = _grade(result)
    found.disk_needed_bytes = found.rollback_bytes
    found.disk_free_bytes = target.dialect.free_disk_bytes()
    return found


def _locks(findings: list[Finding], version: str, seconds: float | None) -> list[dict[str, Any]]:
    """The strongest lock each table of one migration gets, as lint reads its statements."""
    strongest: dict[str, Finding] = {}
    for finding in findings:
        if finding.version != version or not finding.lock or not finding.table:
            continue
        held = strongest.get(finding.table)
        if held is None or BY_STRENGTH.index(finding.lock) < BY_STRENGTH.index(str(held.lock)):
            strongest[finding.table] = finding
    return [
        {
            "table": table,
            "lock": finding.lock,
            "blocks": finding.blocks,
            "blocks_application": finding.lock in BLOCKS_APPLICATION,
            "line": finding.line,
            "table_rows": finding.table_rows,
            "table_bytes": finding.table_bytes,
            # Taken inside the step's transaction: held until the step commits.
            "held_up_to_seconds": seconds,
        }
        for table, finding in sorted(strongest.items())
    ]


def _restore_cost(
    run: Any,
    spec: MigrationSpec | None,
    target: Target,
    existing: set[str],
    sizes: dict[str, tuple[int, int | None]],
) -> tuple[int, int | None]:
    """Rows (and bytes) a rollback of ``run`` would put back: its backup's tables, or the
    tables its transforms capture values of."""
    if spec is None:
        return 0, 0
    tables: list[str] = []
    if run.backup:
        mode = migrator_settings.BACKUP
        tables = tables_for("touched" if mode in ("auto", "off") else mode, spec, target) or []
    tables = [*tables, *transformed_tables(spec)]
    rows = 0
    size_known: int | None = 0
    for table in dict.fromkeys(tables):
        if table not in existing:
            continue
        if table not in sizes:
            sizes[table] = target.dialect.table_size(table)
        table_rows, table_bytes = sizes[table]
        rows += table_rows
        size_known = _add(size_known, table_bytes)
    return rows, size_known


def _add(total: int | None, more: int | None) -> int | None:
    return None if total is None or more is None else total + more


def _grade(result: Plan) -> str:
    ways = [WayBack(run.way_back) for run in result.runs]
    if all(way.exact for way in ways):
        return "exact"
    if all(way.exact or way is WayBack.BACKUP for way in ways):
        return "by backup"
    return "impossible"


__all__ = ["Estimate", "estimate"]
