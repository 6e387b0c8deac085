"""What a lint check is, what it finds, and the registry of every check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Check:
    """One rule: a stable id, how bad it is, what it means and what to do instead."""

    id: str
    name: str
    severity: str
    #: "S": found in a statement; "M": in the migration's declaration or place; "D": in the
    #: live database compared with the recorded schema.
    kind: str
    title: str
    explanation: str
    safe_alternative: str
    #: The dialects it applies to.
    vendors: tuple[str, ...] = ("postgresql", "sqlite")
    #: squawk's rule for the same thing, where it has one.
    squawk: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["vendors"] = list(self.vendors)
        return data


@dataclass
class Finding:
    """A check that fired on one statement (or migration) of one file."""

    check: Check
    version: str
    file: str
    line: int | None
    statement: str
    message: str
    #: Why it is accepted, when a ``-- migrator:ignore <id> <reason>`` comment says so.
    suppressed: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return self.check.severity

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``migrator lint --format json`` (docs/compatibility.md)."""
        return {
            "id": self.check.id,
            "name": self.check.name,
            "severity": self.check.severity,
            "version": self.version,
            "file": self.file,
            "line": self.line,
            "statement": self.statement,
            "message": self.message,
            "safe_alternative": self.check.safe_alternative,
            "squawk": self.check.squawk or None,
            "suppressed": self.suppressed,
        }


CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    if check.id in CHECKS:
        raise ValueError(f"lint check {check.id} is registered twice")
    if check.severity not in SEVERITIES:
        raise ValueError(f"lint check {check.id}: unknown severity {check.severity!r}")
    CHECKS[check.id] = check
    return check
