"""Lint: what a migration's statements and declaration risk, before anything runs.

Each check has a stable id (``S1xx`` from statements, read by PostgreSQL's own parser;
``M1xx`` from the migration's declaration), a severity, an explanation and the safe
alternative (docs/compatibility.md lists them all). A ``-- migrator:ignore <id> <reason>``
comment in the migration accepts one check's findings, with its reason shown.
"""

from __future__ import annotations

from . import rules
from .registry import CHECKS, SEVERITIES, Check, Finding
from .statements import accepts_findings, lint_migration, lint_migrations

__all__ = [
    "CHECKS",
    "SEVERITIES",
    "accepts_findings",
    "Check",
    "Finding",
    "lint_migration",
    "lint_migrations",
    "rules",
]
