"""Linting a migration: each SQL step read by PostgreSQL's own parser (pglast), statement by
statement, each handed to its handler (:mod:`.handlers`), which knows what the same
migration did before it; then the findings its ignore comments accept are marked."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pglast import parse_sql
from pglast import parser as pg_parser

from ...catalog.spec import MigrationSpec, StepSpec
from ...dialects import split_statements
from . import rules
from .context import LintContext
from .handlers import HANDLERS
from .registry import Finding

#: ``-- migrator:ignore S131 the table has 40 rows`` (the reason is required).
_IGNORE = re.compile(r"--\s*migrator:ignore\s+([A-Z]\d{3})(?:[ \t]+(\S[^\n]*))?", re.IGNORECASE)
#: The parts of a migration that are its source file (not its down or config file).
_SOURCE_ROLES = ("main", "up")


def lint_migration(spec: MigrationSpec, vendor: str) -> list[Finding]:
    """Every finding of one migration, suppressed ones marked with their reason."""
    context = LintContext(spec, vendor)
    for step in spec.steps:
        if not step.reversible and not spec.repeatable:
            context.add(
                rules.NO_WAY_BACK,
                spec.line,
                "",
                f"step {step.name!r} ({step.kind}) has no backward part",
            )
        if step.kind == "sql":
            _lint_step(context, step)
    ignored = _ignored(spec)
    for finding in context.findings:
        reason = ignored.get(finding.check.id)
        if reason:
            finding.suppressed = reason
    return context.findings


def lint_migrations(specs: Iterable[MigrationSpec], vendor: str) -> list[Finding]:
    return [finding for spec in specs for finding in lint_migration(spec, vendor)]


def accepts_findings(spec: MigrationSpec) -> bool:
    """Whether the migration accepts a finding with a ``-- migrator:ignore`` comment."""
    return bool(_ignored(spec))


def _ignored(spec: MigrationSpec) -> dict[str, str]:
    """``-- migrator:ignore`` comments of the migration's SQL and file, by check id."""
    texts = [step.forward for step in spec.steps if isinstance(step.forward, str)]
    if spec.source.suffix == ".sql":
        # The file as the catalog read it (comments outside the SQL of any step count
        # too), not read again: an apply asks this of every migration it plans.
        texts.extend(
            content.decode("utf-8", errors="replace")
            for role, content in spec.parts
            if role in _SOURCE_ROLES
        )
    found: dict[str, str] = {}
    for text in texts:
        for match in _IGNORE.finditer(text):
            if match.group(2):
                found[match.group(1).upper()] = match.group(2).strip()
    return found


def _lint_step(context: LintContext, step: StepSpec) -> None:
    context.lock_timeout = bool(step.options.get("lock_timeout"))
    context.transactional = step.transactional
    script = step.forward if isinstance(step.forward, str) else ""
    for statement in split_statements(context.vendor, script):
        try:
            nodes = parse_sql(statement.sql)
        except pg_parser.ParseError as exc:
            context.add(rules.UNPARSED, statement.line, statement.sql, str(exc))
            continue
        for raw in nodes:
            _statement(context, raw.stmt, statement.line, statement.sql.strip())


def _statement(context: LintContext, node: Any, line: int, sql: str) -> None:
    kind = type(node).__name__
    handler = HANDLERS.get(kind)
    if handler is not None:
        handler(context, node, line, sql)


__all__ = ["accepts_findings", "lint_migration", "lint_migrations"]
