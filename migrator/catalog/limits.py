"""Every declared value checked against what it will be stored in, before anything is
written: a too-long release, a risk that is not one, step options that are not JSON or
not of their type. Each problem names the file (and line) and what to do."""

from __future__ import annotations

import json
from numbers import Number
from typing import Any

from ..engine.kinds import KINDS
from .errors import CatalogProblem
from .spec import MigrationSpec

#: Column lengths of the Migration and Step models.
_LENGTHS = {"version": 100, "name": 255, "author": 255, "release": 50}
_STEP_NAME = 255


def _number(minimum: float, strictly: bool = False) -> Any:
    def check(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, Number):
            return False
        return value > minimum if strictly else value >= minimum  # type: ignore[operator]

    return check


#: Known step options: a test and what the value must be.
OPTIONS: dict[str, tuple[Any, str]] = {
    "transaction": (lambda v: isinstance(v, bool), "True or False"),
    "on_error": (lambda v: v in ("fail", "skip", "retry"), "fail, skip or retry"),
    "retries": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an int >= 0"),
    "backoff": (_number(0), "a number >= 0"),
    "timeout": (_number(0, strictly=True), "seconds > 0"),
    "lock_timeout": (_number(0, strictly=True), "seconds > 0"),
    "batch_size": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an int >= 1",
    ),
    "pause_between_batches": (_number(0), "seconds >= 0"),
    "max_rows_per_second": (_number(0, strictly=True), "a number > 0"),
    "noop_down": (lambda v: isinstance(v, bool), "True or False"),
    "backward_transaction": (lambda v: isinstance(v, bool), "True or False"),
}


def problems_of(spec: MigrationSpec) -> list[CatalogProblem]:
    """What cannot be stored or run as declared."""
    where = str(spec.source)
    found: list[CatalogProblem] = []

    def add(message: str) -> None:
        found.append(CatalogProblem(where, message, spec.line))

    for attribute, limit in _LENGTHS.items():
        value = getattr(spec, attribute)
        if len(value) > limit:
            add(f"{attribute} is {len(value)} characters long: at most {limit}")
    if spec.risk not in ("low", "medium", "high"):
        add(f"risk must be low, medium or high, not {spec.risk!r}")
    if len(str(spec.source)) > 1000:
        add("the path is longer than 1000 characters")
    for dependency in spec.depends_on or []:
        if len(dependency) > 100:
            add(f"depends on a version of {len(dependency)} characters: at most 100")
    texts = [spec.description, spec.author, spec.release, spec.name, spec.version]
    for order, step in enumerate(spec.steps, start=1):
        label = f"step {order} ({step.name[:40]})"
        texts += [step.name, step.forward, step.backward, step.validation]
        if len(step.name) > _STEP_NAME:
            add(f"{label}: its name is {len(step.name)} characters long: at most {_STEP_NAME}")
        if step.kind not in KINDS:
            add(f"{label}: unknown step kind {step.kind!r}")
            continue
        for problem in KINDS[step.kind].problems(step):
            add(f"{label}: {problem}")
        try:
            json.dumps(step.options)
        except (TypeError, ValueError) as exc:
            add(f"{label}: options cannot be stored: {exc}")
            continue
        for key, value in step.options.items():
            rule = OPTIONS.get(key)
            if rule is None:
                add(f"{label}: unknown option {key!r}: known are {', '.join(sorted(OPTIONS))}")
            elif not rule[0](value):
                add(f"{label}: option {key} must be {rule[1]}, not {value!r}")
    if any("\x00" in text for text in texts):
        add("holds a NUL byte, which a database cannot store")
    return found
