"""What a format parser produces: plain descriptions of migrations and their steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import checksum as checksums


@dataclass
class StepSpec:
    """One step as declared in a file. ``forward`` is SQL, a callable path or a JSON spec."""

    name: str
    kind: str
    forward: str
    backward: str = ""
    validation: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    #: The callables themselves for python steps (not stored in the database).
    forward_callable: Any = None
    backward_callable: Any = None

    @property
    def reversible(self) -> bool:
        if self.kind in ("transform", "validate"):
            return True  # transforms restore captured values; validations change nothing
        if self.kind == "python":
            return self.backward_callable is not None or bool(self.backward)
        return bool(self.backward.strip())

    @property
    def transactional(self) -> bool:
        return bool(self.options.get("transaction", True))


@dataclass
class MigrationSpec:
    """One migration as found on disk."""

    version: str
    name: str
    database: str
    format: str
    source: Path
    parts: list[checksums.Part]
    steps: list[StepSpec]
    description: str = ""
    author: str = ""
    date: str = ""
    kind: str = ""
    depends_on: list[str] | None = None
    release: str = ""
    risk: str = "low"
    requires_downtime: bool = False
    #: Line of the declaration in ``source``, for error messages.
    line: int | None = None

    @property
    def checksum(self) -> str:
        return checksums.compute(self.parts)

    def checksum_with(self, algorithm: str) -> str:
        return checksums.compute(self.parts, algorithm)

    @property
    def reversible(self) -> bool:
        return all(step.reversible for step in self.steps)

    @property
    def transactional(self) -> bool:
        return all(step.transactional for step in self.steps)

    @property
    def effective_kind(self) -> str:
        """Declared kind, or inferred: SQL only is schema, transforms/python only is data."""
        if self.kind:
            return self.kind
        kinds = {step.kind for step in self.steps} - {"validate"}
        if kinds <= {"sql"}:
            return "schema"
        if kinds <= {"python", "transform"}:
            return "data"
        return "hybrid"

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"
