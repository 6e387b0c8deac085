"""What a lint pass knows while it reads a migration's statements in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...catalog.spec import MigrationSpec
from .registry import Check, Finding


@dataclass
class LintContext:
    """What the statements before this one in the same migration did."""

    spec: MigrationSpec
    vendor: str
    created: set[str] = field(default_factory=set)
    lock_timeout: bool = False
    transactional: bool = True
    findings: list[Finding] = field(default_factory=list)

    def existing(self, name: str | None) -> bool:
        return bool(name) and str(name).lower() not in self.created

    def add(
        self,
        check: Check,
        line: int | None,
        sql: str,
        message: str,
        *,
        table: str | None = None,
        lock: str | None = None,
    ) -> None:
        """A finding; ``lock``: the PostgreSQL lock mode the statement takes on ``table``."""
        if self.vendor not in check.vendors:
            return
        self.findings.append(
            Finding(
                check,
                self.spec.version,
                str(self.spec.source),
                line,
                sql,
                message,
                table=table,
                lock=lock if self.vendor == "postgresql" else None,
            )
        )
