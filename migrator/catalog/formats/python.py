"""Python modules ``<version>_<name>.py`` declaring ``class Migration(dsl.Migration)``."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from django.utils.module_loading import import_string

from ... import dsl
from ...dialects import split_statements
from ...engine.kinds import KINDS
from ..errors import CatalogError
from ..spec import MigrationSpec, StepSpec
from ..versions import split_versioned_name
from .base import (
    Claim,
    MigrationFormat,
    ReadContext,
    UnendedTransaction,
    one_per_role,
    settle_transactions,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def import_file(path: Path) -> ModuleType:
    """Import a migration file as a fresh module; whatever goes wrong (an exception,
    ``SystemExit``, ``KeyboardInterrupt``) is a catalog error naming the file and line."""
    module_name = "migrator_catalog_" + re.sub(r"\W", "_", str(path.resolve()))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CatalogError.at(path, "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise CatalogError.at(path, f"SyntaxError: {exc.msg}", exc.lineno) from exc
    except BaseException as exc:  # noqa: BLE001 - a migration file must never stop migrator
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename) == path:
                line = frame.lineno
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise CatalogError.at(path, f"import failed: {what}", line) from None
    sys.modules[module_name] = module
    return module


class PythonFormat(MigrationFormat):
    name = "python"
    #: Built by importing code, which may read anything: imported again at every read.
    reusable = False

    def claim(self, entry: Path, ctx: ReadContext) -> Claim | None:
        if entry.suffix != ".py" or entry.name.startswith("__") or not entry.is_file():
            return None
        parsed = split_versioned_name(entry.stem)
        if parsed is None:
            return None
        return Claim(self, parsed[0], parsed[1], "main", entry)

    def build(self, claims: list[Claim], ctx: ReadContext) -> MigrationSpec:
        claim = one_per_role(claims)["main"]
        path = claim.path
        raw, _ = ctx.read(path)
        module = import_file(path)
        declared = getattr(module, "Migration", None)
        if not (inspect.isclass(declared) and issubclass(declared, dsl.Migration)):
            raise CatalogError.at(
                path, "no `class Migration(dsl.Migration)`: declare one (from migrator import dsl)"
            )
        try:
            line: int | None = inspect.getsourcelines(declared)[1]
        except (OSError, TypeError):
            line = None
        declared_steps = declared.steps
        if not isinstance(declared_steps, list | tuple):
            raise CatalogError.at(
                path,
                f"steps must be a list of dsl steps, not {type(declared_steps).__name__}",
                line,
            )
        steps = [
            _step_spec(step, index, path, line, ctx.vendor, module)
            for index, step in enumerate(declared_steps, start=1)
        ]
        if not steps:
            raise CatalogError.at(path, "the migration declares no steps", line)
        depends_on = declared.depends_on
        if depends_on is not None and (
            not isinstance(depends_on, list | tuple)
            or not all(isinstance(v, str | int) for v in depends_on)
        ):
            raise CatalogError.at(path, "depends_on must be a list of versions", line)
        for attribute in ("description", "author", "kind", "release", "risk"):
            if not isinstance(getattr(declared, attribute), str):
                raise CatalogError.at(path, f"{attribute} must be text", line)
        for attribute in ("requires_downtime", "foreign_keys", "stop"):
            if not isinstance(getattr(declared, attribute), bool):
                raise CatalogError.at(path, f"{attribute} must be True or False", line)
        if declared.kind and declared.kind not in ("schema", "data", "hybrid"):
            raise CatalogError.at(
                path, f"kind must be schema, data or hybrid, not {declared.kind!r}", line
            )
        if declared.risk not in ("low", "medium", "high"):
            raise CatalogError.at(
                path, f"risk must be low, medium or high, not {declared.risk!r}", line
            )
        return MigrationSpec(
            version=claim.version,
            name=claim.name,
            database=ctx.database,
            format=self.name,
            source=path,
            parts=[("main", raw)],
            steps=steps,
            description=declared.description or (inspect.getdoc(declared) or "").strip(),
            author=declared.author,
            kind=declared.kind,
            depends_on=[str(v) for v in depends_on] if depends_on is not None else None,
            release=declared.release,
            risk=declared.risk,
            requires_downtime=declared.requires_downtime,
            required_stop=declared.stop,
            options={} if declared.foreign_keys else {"foreign_keys": False},
            line=line,
        )

    def scaffold(self, folder: Path, version: str, name: str) -> list[Path]:
        path = folder / f"{version}_{name}.py"
        path.write_text(
            '"""TODO: say what this migration does."""\n\n'
            "from migrator import dsl\n\n\n"
            "class Migration(dsl.Migration):\n"
            '    description = ""\n'
            "    steps = [\n"
            '        dsl.RunSQL("SELECT 1", backward="SELECT 1"),\n'
            "    ]\n"
        )
        return [path]


def _own_transactions(
    forward: str,
    backward: str,
    options: dict[str, Any],
    vendor: str,
    path: Path,
    line: int | None,
    index: int,
) -> tuple[str, str]:
    """A RunSQL's own ``BEGIN``/``COMMIT``, as an SQL file's (:func:`.base.settle_transactions`):
    one wrapped transaction loses its wrapper and runs in the step's; other transaction
    control runs outside it, which ``transaction=True`` contradicts (an error, not a
    ``COMMIT`` half-way through the step, before its record)."""
    try:
        settled = settle_transactions(
            forward,
            backward,
            bool(options.get("transaction", True)),
            options.get("backward_transaction"),
            vendor,
        )
    except UnendedTransaction as exc:
        which = "forward" if exc.part == "up" else "backward"
        raise CatalogError.at(
            path, exc.told(f"step {index} (RunSQL): its {which} SQL", "its line"), line
        ) from None
    if settled.up_manages_own and options.get("transaction") is True:
        raise CatalogError.at(
            path,
            f"step {index} (RunSQL): its forward SQL commits or rolls back on its own, so "
            "it cannot run in the step's transaction: drop transaction=True",
            line,
        )
    if not settled.transactional:
        options["transaction"] = False
    if settled.down_transactional not in (None, settled.transactional):
        options["backward_transaction"] = settled.down_transactional
    return settled.up, settled.down or ""


def _vendor_sql(value: Any, vendor: str, path: Path, line: int | None, what: str) -> str:
    """Pick the SQL for this database vendor from a string or a ``{vendor: sql}`` dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if vendor not in value:
            raise CatalogError.at(
                path,
                f"{what} has no SQL for {vendor!r} (it has {sorted(map(str, value))}): add it",
                line,
            )
        if not isinstance(value[vendor], str):
            raise CatalogError.at(path, f"{what} for {vendor!r} must be SQL text", line)
        return value[vendor]
    raise CatalogError.at(path, f"{what} must be SQL text or a dict of SQL per vendor", line)


def _one_query(sql: str, vendor: str, path: Path, line: int | None, what: str) -> str:
    """A validation query: one statement. It runs in the step's transaction, where a
    second one (``...; ROLLBACK``) could end it before the step's record."""
    if sql.strip():
        count = len(split_statements(vendor, sql))
        if count > 1:
            raise CatalogError.at(
                path,
                f"{what} is {count} statements: a validation is one query (it runs inside "
                "the step's transaction)",
                line,
            )
    return sql


def _expression(sql: str, vendor: str, path: Path, line: int | None, what: str) -> str:
    """A transform's expression or condition: part of one statement (a ``;`` outside its
    strings and comments would end the batch's UPDATE and run what follows as more)."""
    if sql.strip() and len(split_statements(vendor, f"SELECT {sql}")) > 1:
        raise CatalogError.at(
            path, f"{what} is an expression, not statements: remove the ';'", line
        )
    return sql


def _callable_path(value: Any, module: ModuleType, path: Path, line: int | None, what: str) -> str:
    if value is None:
        return ""
    if callable(value):
        return f"{path.name}:{value.__name__}"
    if isinstance(value, str):
        import_or_fail(value, path, line)
        return value
    raise CatalogError.at(path, f"{what} must be a callable or a dotted path", line)


def _step_spec(
    step: Any, index: int, path: Path, line: int | None, vendor: str, module: ModuleType
) -> StepSpec:
    if not isinstance(step, dsl.Step):
        raise CatalogError.at(
            path, f"step {index} is not a dsl step but {type(step).__name__}", line
        )
    if not isinstance(step.name, str):
        raise CatalogError.at(path, f"step {index}: name must be text", line)
    if not isinstance(step.options, dict):
        raise CatalogError.at(path, f"step {index}: options must be keyword arguments", line)
    name = step.name or f"{step.kind} {index}"
    what = f"step {index} validation"
    validation = _one_query(
        _vendor_sql(step.validation, vendor, path, line, what), vendor, path, line, what
    )
    options = dict(step.options)
    if isinstance(step, dsl.RunSQL):
        up_sql = _vendor_sql(step.forward, vendor, path, line, f"step {index} forward")
        down_sql = _vendor_sql(step.backward or "", vendor, path, line, f"step {index} backward")
        up_sql, down_sql = _own_transactions(up_sql, down_sql, options, vendor, path, line, index)
        return StepSpec(
            name=name,
            kind="sql",
            forward=up_sql,
            backward=down_sql,
            validation=validation,
            options=options,
        )
    if isinstance(step, dsl.RunPython):
        for what, value in (("forward", step.forward), ("backward", step.backward)):
            if not (
                callable(value) or isinstance(value, str) or (what == "backward" and value is None)
            ):
                raise CatalogError.at(
                    path,
                    f"step {index} (RunPython): {what} must be a function or a dotted path, "
                    f"not {type(value).__name__}",
                    line,
                )
        forward = (
            step.forward if callable(step.forward) else import_or_fail(step.forward, path, line)
        )
        backward = step.backward
        if isinstance(backward, str):
            backward = import_or_fail(backward, path, line)
        return StepSpec(
            name=name,
            kind="python",
            forward=_callable_path(step.forward, module, path, line, f"step {index} forward"),
            backward=_callable_path(step.backward, module, path, line, f"step {index} backward"),
            validation=validation,
            options=options,
            forward_callable=forward,
            backward_callable=backward,
        )
    if isinstance(step, dsl.Transform):
        return StepSpec(
            name=name,
            kind="transform",
            forward=json.dumps(_transform_spec(step, index, path, line, vendor), sort_keys=True),
            validation=validation,
            options=options,
        )
    if isinstance(step, dsl.Validate):
        return StepSpec(
            name=name,
            kind="validate",
            forward=_one_query(
                _vendor_sql(step.query, vendor, path, line, f"step {index} query"),
                vendor,
                path,
                line,
                f"step {index} query",
            ),
            options=options,
        )
    return _plugin_step(step, name, validation, options, index, path, line, vendor)


def _plugin_step(
    step: dsl.Step,
    name: str,
    validation: str,
    options: dict[str, Any],
    index: int,
    path: Path,
    line: int | None,
    vendor: str,
) -> StepSpec:
    """A step of a kind a project registered (migrator.engine.kinds.register)."""
    if step.kind not in KINDS:
        raise CatalogError.at(
            path,
            f"step {index}: {type(step).__name__} has kind {step.kind!r}, which no step kind "
            f"is registered for (known: {', '.join(sorted(KINDS))})",
            line,
        )
    try:
        declared = step.declaration(vendor)
    except Exception as exc:  # noqa: BLE001 - the project's code: named, never a traceback
        raise CatalogError.at(
            path, f"step {index} ({type(step).__name__}): {type(exc).__name__}: {exc}", line
        ) from exc
    spec = StepSpec(
        name=name,
        kind=step.kind,
        forward=str(declared.get("forward", "")),
        backward=str(declared.get("backward", "")),
        validation=validation,
        options={**options, **dict(declared.get("options", {}))},
    )
    problems = KINDS[step.kind].problems(spec)
    if problems:
        raise CatalogError.at(path, f"step {index}: {'; '.join(problems)}", line)
    return spec


def import_or_fail(dotted: str, path: Path, line: int | None) -> Any:
    try:
        return import_string(dotted)
    except BaseException as exc:  # noqa: BLE001 - importing runs the project's code
        raise CatalogError.at(
            path, f"{dotted!r} cannot be imported: {type(exc).__name__}: {exc}", line
        ) from None


def _transform_spec(
    step: dsl.Transform, index: int, path: Path, line: int | None, vendor: str
) -> dict[str, Any]:
    where = f"step {index} (transform)"
    if not isinstance(step.table, str) or not _IDENTIFIER.match(step.table):
        raise CatalogError.at(
            path, f"{where}: table must be a table name, not {step.table!r}", line
        )
    if not isinstance(step.key, str) or not _IDENTIFIER.match(step.key):
        raise CatalogError.at(path, f"{where}: key must be a column name, not {step.key!r}", line)
    if not isinstance(step.set, dict) or not step.set:
        raise CatalogError.at(
            path, f"{where}: set must map at least one column to an expression", line
        )
    columns: dict[str, str] = {}
    for column, expression in step.set.items():
        if not isinstance(column, str) or not _IDENTIFIER.match(column) or "." in column:
            raise CatalogError.at(path, f"{where}: {column!r} is not a column name", line)
        if column == step.key:
            raise CatalogError.at(
                path, f"{where}: the key column {column!r} cannot be changed", line
            )
        what = f"{where} set[{column!r}]"
        columns[column] = _expression(
            _vendor_sql(expression, vendor, path, line, what), vendor, path, line, what
        )
    batch_size = step.batch_size
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise CatalogError.at(path, f"{where}: batch_size must be a positive integer", line)
    return {
        "table": step.table,
        "key": step.key,
        "set": columns,
        "where": _expression(
            _vendor_sql(step.where or "", vendor, path, line, f"{where} where"),
            vendor,
            path,
            line,
            f"{where} where",
        ),
        "batch_size": batch_size,
    }
