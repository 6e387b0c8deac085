"""Problems found while reading the catalog, each naming a file (and line when known)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong with the catalog, and where."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


class CatalogError(Exception):
    """The catalog cannot be used as it is; carries every problem found."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def at(cls, path: Path | str, message: str, line: int | None = None) -> CatalogError:
        return cls([CatalogProblem(str(path), message, line)])
