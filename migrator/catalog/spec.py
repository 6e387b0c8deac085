"""What a format parser produces: plain descriptions of migrations and their steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.kinds import StepKind, WayBack, kind_for
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
    def kind_impl(self) -> StepKind:
        return kind_for(self.kind)

    @property
    def way_back(self) -> WayBack:
        """How the step can be taken back, as declared (see :class:`StepKind`)."""
        return self.kind_impl.declared_way_back(self)

    @property
    def reversible(self) -> bool:
        return self.way_back is not WayBack.NONE

    @property
    def transactional(self) -> bool:
        return self.kind_impl.transactional(self)


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
    #: Why migrator cannot run it (a goose ``.go`` file, a Flyway Java migration); "" if it can.
    unsupported: str = ""
    #: Flyway ``R__`` scripts: no version order of their own, rerun whenever they change.
    repeatable: bool = False
    #: A Flyway SQL callback's event (``afterMigrate``): run at that point of every forward
    #: deployment that applies something, never on its own (see ``services.planning``).
    callback: str = ""
    #: The version order the upgrade path must stop at this version.
    required_stop: bool = False
    #: Migration-wide options (``foreign_keys: False`` on SQLite).
    options: dict[str, Any] = field(default_factory=dict)

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
        changes = {step.kind_impl.changes for step in self.steps} - {""}
        if len(changes) == 1:
            return changes.pop()
        return "hybrid" if changes else "schema"

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"
