"""Step kinds: one module per kind behind one protocol (:class:`.base.StepKind`), and the
registry that maps a step's ``kind`` to its implementation.

Adding a kind is adding a module with a ``StepKind`` subclass and one line here (or
``register(MyKind())`` from a project's ``AppConfig.ready``).
"""

from __future__ import annotations

from .base import StepKind, WayBack, worst
from .python import PythonKind, StepContext
from .sql import SqlKind
from .transform import TransformKind, TransformSpec
from .validate import ValidateKind

KINDS: dict[str, StepKind] = {}


def register(kind: StepKind) -> StepKind:
    """Make ``kind`` available to catalogs and the engine under ``kind.name``."""
    KINDS[kind.name] = kind
    return kind


for _kind in (SqlKind(), PythonKind(), TransformKind(), ValidateKind()):
    register(_kind)


class UnknownKind(KeyError):
    pass


def kind_for(name: str) -> StepKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"unknown step kind {name!r}: known are {sorted(KINDS)}") from None


__all__ = [
    "KINDS",
    "StepContext",
    "StepKind",
    "TransformSpec",
    "UnknownKind",
    "WayBack",
    "kind_for",
    "register",
    "worst",
]
