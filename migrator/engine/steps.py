"""The four step kinds. Each knows how to go forward and backward; a registry picks one."""

from __future__ import annotations

import json
import time
from typing import Any

from ..models import StepRun
from . import capture
from .context import StepContext, restore_captures
from .execution import StepExecution, StepFailed
from .reversibility import captured_tables
from .sql import run_script


def check_validation(ex: StepExecution, query: str, label: str) -> None:
    """A validation passes when its query returns no rows, or one row holding true."""
    with ex.target.connection.cursor() as cursor:
        cursor.execute(query)
        rows = cursor.fetchmany(6)
    passed = not rows or (len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (True, 1))
    ex.note(
        kind="validation", query=query, passed=passed, sample=[list(map(str, r)) for r in rows[:5]]
    )
    if not passed:
        sample = "; ".join(", ".join(map(str, row)) for row in rows[:5])
        raise StepFailed(f"{ex.where}{label} failed: the query returned rows: {sample}")


def _statement_timeout(ex: StepExecution) -> None:
    timeout = ex.spec.options.get("timeout")
    if timeout and ex.target.vendor == "postgresql":
        ex.target.execute("SET LOCAL statement_timeout = %s", [int(float(timeout) * 1000)])


class SqlStep:
    """Forward SQL, optional backward SQL; one transaction unless ``transaction`` is off."""

    @staticmethod
    def _run(ex: StepExecution, script: str) -> None:
        started = time.monotonic()
        ex.progress.start(None)
        validate = bool(ex.spec.validation) and ex.direction == "forward"
        if ex.spec.transactional:
            with ex.target.atomic():
                _statement_timeout(ex)
                result = run_script(ex.target.connection, script, ex.where)
                if validate:  # inside the transaction: a failed check undoes the step
                    check_validation(ex, ex.spec.validation, "validation")
        else:
            result = run_script(ex.target.connection, script, ex.where)
            if validate:
                check_validation(ex, ex.spec.validation, "validation")
        for statement in result.statements:
            ex.note(
                kind="statement",
                sql=statement.sql,
                line=statement.line,
                rows=statement.rows,
                seconds=round(statement.seconds, 6),
            )
        ex.progress.done = result.rows
        ex.progress.flush(finished=True)
        ex.note(kind="timing", seconds=round(time.monotonic() - started, 6))

    def forward(self, ex: StepExecution) -> None:
        self._run(ex, ex.spec.forward)

    def backward(self, ex: StepExecution) -> None:
        if not ex.spec.backward.strip():
            raise StepFailed(f"{ex.where}no backward SQL")
        self._run(ex, ex.spec.backward)


class ValidateStep:
    """A query that must return no rows (or a single true). Going back does nothing."""

    def forward(self, ex: StepExecution) -> None:
        check_validation(ex, ex.spec.forward, "validation step")

    def backward(self, ex: StepExecution) -> None:
        return None


class TransformStep:
    """Batched column changes by key range; old values captured so going back is exact."""

    def forward(self, ex: StepExecution) -> None:
        spec = json.loads(ex.spec.forward)
        target, q = ex.target, ex.target.quote
        table, key, assignments = spec["table"], spec["key"], spec["set"]
        columns = list(assignments)
        size = int(spec.get("batch_size") or ex.spec.options.get("batch_size") or _default_batch())
        where = f" AND ({capture.escape(spec['where'])})" if spec.get("where") else ""
        setter = ", ".join(f"{q(c)} = {capture.escape(e)}" for c, e in assignments.items())
        capture_table = target.capture_table(ex.run.pk, ex.order, table)
        target.ensure_cursor_table()
        target.ensure_capture_table(capture_table, table, key, columns)
        _remember_capture(ex.step_run, capture_table, table)
        position, batches, done = target.read_cursor(ex.run.pk, ex.order, "forward")
        ex.progress.start(done + _remaining(ex, table, key, position, where), done, batches)
        for after, upto in capture.batches(target, table, key, position, size):
            started = time.monotonic()
            condition, params = capture.key_range(target, key, after, upto)
            with target.atomic():
                capture.capture_rows(
                    target, capture_table, table, key, columns, condition + where, params
                )
                rows = target.execute(
                    f"UPDATE {q(table)} SET {setter} WHERE {condition}{where}", params
                )
                batches, done = batches + 1, done + rows
                target.write_cursor(ex.run.pk, ex.order, "forward", upto, batches, done)
            ex.progress.batch(rows, {"position": upto})
            ex.throttle(rows, started)
        ex.progress.flush({"position": None, "complete": True}, finished=True)
        if ex.spec.validation:
            check_validation(ex, ex.spec.validation, "validation")

    def backward(self, ex: StepExecution) -> None:
        spec = json.loads(ex.spec.forward)
        capture_table = ex.target.capture_table(ex.forward_run_id, ex.order, spec["table"])
        if not ex.target.table_exists(capture_table):
            raise StepFailed(
                f"{ex.where}no captured values to restore (table {capture_table} is gone)"
            )
        restore_captures(ex, {capture_table: spec["table"]})


class PythonStep:
    """``forward(ctx)`` / ``backward(ctx)``; without a backward, captured values are restored."""

    def forward(self, ex: StepExecution) -> None:
        ctx = StepContext(ex)
        try:
            if ex.spec.transactional:
                with ex.target.atomic():
                    ex.spec.forward_callable(ctx)
            else:
                ex.spec.forward_callable(ctx)
        finally:
            ctx.close()
        ex.progress.flush(ctx.cursor_state(), finished=True)
        if ex.spec.validation:
            check_validation(ex, ex.spec.validation, "validation")

    def backward(self, ex: StepExecution) -> None:
        if ex.spec.backward_callable is not None:
            ctx = StepContext(ex)
            try:
                with ex.target.atomic():
                    ex.spec.backward_callable(ctx)
            finally:
                ctx.close()
            return
        tables = captured_tables(ex.target, ex.forward_run_id, ex.order)
        if not tables:
            raise StepFailed(f"{ex.where}no backward callable and nothing captured to restore")
        restore_captures(ex, tables)


def _remember_capture(step_run: StepRun | None, capture_table: str, table: str) -> None:
    """Record which table a capture table belongs to, before anything is captured."""
    if step_run is None:
        return
    cursor = dict(step_run.cursor or {})
    captures = dict(cursor.get("captures", {}))
    if captures.get(capture_table) == table:
        return
    captures[capture_table] = table
    cursor["captures"] = captures
    step_run.cursor = cursor
    StepRun.objects.filter(pk=step_run.pk).update(cursor=cursor)


def _remaining(ex: StepExecution, table: str, key: str, position: Any, where: str) -> int:
    q = ex.target.quote
    if position is None:
        condition, params = "1 = 1", []
    else:
        condition, params = f"{q(key)} > %s", [position]
    return int(
        ex.target.scalar(f"SELECT COUNT(*) FROM {q(table)} WHERE {condition}{where}", params) or 0
    )


def _default_batch() -> int:
    from ..conf import migrator_settings

    return migrator_settings.BATCH_SIZE


KINDS: dict[str, Any] = {
    "sql": SqlStep(),
    "validate": ValidateStep(),
    "transform": TransformStep(),
    "python": PythonStep(),
}
