"""What a lint check is, what it finds, and the registry of every check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.template.defaultfilters import filesizeformat

from .locks import LOCK_BLOCKS


def human_bytes(size: int | None) -> str:
    """``312.4 MB`` (Django's ``filesizeformat``, with plain spaces for terminals)."""
    return "unknown" if size is None else str(filesizeformat(size)).replace("\xa0", " ")


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
    #: The table the statement locks, and the PostgreSQL lock mode it takes on it.
    table: str | None = None
    lock: str | None = None
    #: The table's size on the target, where a database was there to ask.
    table_rows: int | None = None
    table_bytes: int | None = None
    #: Why the finding counts for less than its check's severity (a small table).
    downgraded: str | None = None

    @property
    def severity(self) -> str:
        return "info" if self.downgraded else self.check.severity

    @property
    def blocks(self) -> str | None:
        return LOCK_BLOCKS.get(self.lock or "")

    def lock_text(self) -> str:
        """``SHARE lock on orders (120,000 rows, 9.4 MB): blocks writes``, or ``""``."""
        if not self.lock:
            return ""
        where = f" on {self.table}" if self.table else ""
        size = ""
        if self.table_rows is not None:
            size = f"{self.table_rows:,} rows"
            if self.table_bytes is not None:
                size += f", {human_bytes(self.table_bytes)}"
            size = f" ({size})"
        return f"{self.lock} lock{where}{size}: blocks {self.blocks}"

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``migrator lint --format json`` (docs/compatibility.md)."""
        return {
            "id": self.check.id,
            "name": self.check.name,
            "severity": self.severity,
            "version": self.version,
            "file": self.file,
            "line": self.line,
            "statement": self.statement,
            "message": self.message,
            "safe_alternative": self.check.safe_alternative,
            "squawk": self.check.squawk or None,
            "suppressed": self.suppressed,
            "table": self.table,
            "lock": self.lock,
            "blocks": self.blocks,
            "table_rows": self.table_rows,
            "table_bytes": self.table_bytes,
            "downgraded": self.downgraded,
        }


CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    if check.id in CHECKS:
        raise ValueError(f"lint check {check.id} is registered twice")
    if check.severity not in SEVERITIES:
        raise ValueError(f"lint check {check.id}: unknown severity {check.severity!r}")
    CHECKS[check.id] = check
    return check
