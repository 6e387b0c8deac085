"""``lint``: the checks of :mod:`migrator.schema.lint` over the catalog, the pending
migrations of a target, or any folder of migrations (read with the catalog's readers,
without a database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connections

from ..catalog import MigrationSpec, load_catalog
from ..catalog.sources import Source
from ..conf import migrator_settings
from ..dialects import dialect_for, is_supported
from ..exceptions import BadInput, OperationFailed
from ..models import SchemaVersion
from ..schema.diff import diff_schemas
from ..schema.lint import CHECKS, Finding, accepts_findings, lint_migrations, rules
from .common import require_tables
from .planning import Plan
from .status import migration_states

VENDORS = ("postgresql", "sqlite")


@dataclass
class LintReport:
    """Findings in catalog order, and which of them block (``LINT_BLOCKING``)."""

    findings: list[Finding] = field(default_factory=list)
    migrations: int = 0
    blocking_severities: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [
            f
            for f in self.findings
            if f.suppressed is None and f.severity in self.blocking_severities
        ]

    def as_dict(self) -> dict[str, Any]:
        """The stable ``lint --format json`` shape (docs/compatibility.md)."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            if finding.suppressed is None:
                counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return {
            "migrations": self.migrations,
            "findings": [f.as_dict() for f in self.findings],
            "counts": counts,
            "blocking": len(self.blocking),
            "blocking_severities": self.blocking_severities,
        }


def lint(
    *,
    path: str | Path | None = None,
    database: str | None = None,
    pending: bool = False,
    vendor: str | None = None,
) -> LintReport:
    """Lint ``path`` (any folder of migrations), or the catalog (every target, or
    ``database``; only its pending migrations with ``pending``)."""
    if vendor is not None and vendor not in VENDORS:
        raise BadInput(f"unknown dialect {vendor!r}: use one of {', '.join(VENDORS)}")
    report = LintReport(blocking_severities=list(migrator_settings.LINT_BLOCKING))
    for specs, dialect, alias in _targets(path, database, pending, vendor):
        report.migrations += len(specs)
        found = lint_migrations(specs, dialect)
        if alias is not None:
            measure(found, alias)
        report.findings.extend(found)
    if path is None:
        report.findings.extend(_target_findings(database))
    return report


def _target_findings(database: str | None) -> list[Finding]:
    """What only the target itself shows: pending migrations out of order, and a live
    schema that drifted from the one recorded after the last deployment (nothing before
    ``migrate`` made migrator's tables)."""
    try:
        require_tables()
    except BadInput:
        return []
    catalog = load_catalog()
    found: list[Finding] = []
    for alias in sorted(catalog.migrations):
        if database is not None and alias != database:
            continue
        for state in migration_states(catalog, alias):
            if state.out_of_order:
                found.append(
                    Finding(
                        rules.OUT_OF_ORDER,
                        state.version,
                        state.source,
                        None,
                        "",
                        f"{state.version} is pending on {alias}, after later versions applied",
                    )
                )
        found.extend(_drift(alias))
    return found


def _drift(alias: str) -> list[Finding]:
    if alias not in connections.databases or not is_supported(alias):
        return []
    recorded = SchemaVersion.objects.filter(database=alias, active=True).first()
    if recorded is None or not recorded.schema:
        return []
    # Tables of Django models change with Django's own migrate: not drift.
    django_tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}

    def own(schema: dict[str, Any]) -> dict[str, Any]:
        tables = schema.get("tables") or {}
        return {**schema, "tables": {k: v for k, v in tables.items() if k not in django_tables}}

    changes = diff_schemas(own(recorded.schema), own(dialect_for(alias).capture_schema()))
    if not changes:
        return []
    listed = "; ".join(f"{c['change']} {c['detail']}" for c in changes[:10])
    more = f" (and {len(changes) - 10} more)" if len(changes) > 10 else ""
    return [
        Finding(
            rules.SCHEMA_DRIFT,
            recorded.version,
            alias,
            None,
            "",
            f"{alias} differs from its schema recorded at {recorded.version}: {listed}{more}",
        )
    ]


def measure(findings: list[Finding], alias: str) -> None:
    """The real size of each table a finding locks, from the target ``alias``; a lock risk
    on a small table (``LINT_SMALL_TABLE_ROWS``) is downgraded to info, saying why."""
    if alias not in connections.databases or not is_supported(alias):
        return
    wanted = {f.table for f in findings if f.table}
    if not wanted:
        return
    dialect = dialect_for(alias)
    try:
        existing = set(dialect.user_tables())
        sizes = {table: dialect.table_size(table) for table in sorted(wanted & existing)}
    except DatabaseError:  # the target cannot be asked: statement checks stand on their own
        return
    small = migrator_settings.LINT_SMALL_TABLE_ROWS
    for finding in findings:
        if finding.table not in sizes:
            continue
        finding.table_rows, finding.table_bytes = sizes[finding.table]
        if finding.check.id in rules.LOCK_RISKS and finding.table_rows < small:
            finding.downgraded = (
                f"{finding.table} has {finding.table_rows:,} rows on {alias} "
                f"(fewer than LINT_SMALL_TABLE_ROWS = {small:,}): the lock is brief"
            )


def _targets(
    path: str | Path | None, database: str | None, pending: bool, vendor: str | None
) -> list[tuple[list[MigrationSpec], str, str | None]]:
    """``(migrations, dialect, target alias or None without a database)`` to lint."""
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise BadInput(f"{folder}: not a folder of migrations")
        alias = database or migrator_settings.DEFAULT_DATABASE
        catalog = load_catalog([Source(folder, alias, f"lint {folder}")])
        return [(catalog.for_database(alias), vendor or "postgresql", None)]
    catalog = load_catalog()
    if pending:
        require_tables()
    found = []
    for alias in sorted(catalog.migrations):
        if database is not None and alias != database:
            continue
        specs = catalog.for_database(alias)
        if pending:
            waiting = {s.version for s in migration_states(catalog, alias) if s.state == "pending"}
            specs = [s for s in specs if s.version in waiting]
        live = alias if _has_database(alias) and vendor in (None, _vendor(alias)) else None
        found.append((specs, vendor or _vendor(alias), live))
    if database is not None and not found:
        raise BadInput(f"no migrations for database {database!r}")
    return found


def _has_database(alias: str) -> bool:
    return alias in connections.databases and is_supported(alias)


def _vendor(alias: str) -> str:
    vendor = connections[alias].vendor if alias in connections.databases else "postgresql"
    return vendor if vendor in VENDORS else "postgresql"


def lint_plan(result: Plan) -> LintReport:
    """The findings of the migrations a forward plan would run, in the target's dialect."""
    report = LintReport(blocking_severities=list(migrator_settings.LINT_BLOCKING))
    if result.direction != "forward" or result.catalog is None:
        return report
    found = (result.catalog.get(result.database, run.version) for run in result.runs)
    specs = [spec for spec in found if spec is not None]
    report.migrations = len(specs)
    report.findings = lint_migrations(specs, _vendor(result.database))
    measure(report.findings, result.database)
    return report


def worth_linting(result: Plan) -> bool:
    """Whether an apply must lint its plan: the gate is on, or a planned migration accepts
    a finding by comment (recorded when it is applied). Otherwise apply skips parsing."""
    if result.direction != "forward" or result.catalog is None:
        return False
    if migrator_settings.LINT_GATE:
        return True
    for run in result.runs:
        spec = result.catalog.get(result.database, run.version)
        if spec is not None and accepts_findings(spec):
            return True
    return False


def check_gate(
    result: Plan, override: str | None, report: LintReport | None = None
) -> LintReport | None:
    """With ``LINT_GATE`` on, refuse a plan with blocking findings unless ``override``
    gives the reason they are accepted; the report when an override was needed."""
    if not migrator_settings.LINT_GATE or result.direction != "forward":
        return None
    report = report if report is not None else lint_plan(result)
    if not report.blocking:
        return None
    if not (override or "").strip():
        listed = "; ".join(
            f"{f.check.id} {f.check.name} in {f.version} ({f.file}:{f.line})"
            for f in report.blocking
        )
        raise OperationFailed(
            f"lint blocks this apply on {result.database}: {listed}. Fix them, accept one "
            "with a '-- migrator:ignore <id> <reason>' comment, or override with a reason "
            "(--override-lint REASON; in the console, the override_lint permission)."
        )
    return report


def list_checks() -> list[dict[str, Any]]:
    """Every check, in id order (``lint --list-checks``)."""
    return [CHECKS[key].as_dict() for key in sorted(CHECKS)]
