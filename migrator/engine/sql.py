"""Running statements with precise errors: which migration, step, line, and the database's
own message."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..dialects import Dialect, Statement, split_statements
from ..dialects.base import FailedAt, SentScript
from .errors import StepFailed


@dataclass
class StatementResult:
    sql: str
    line: int
    rows: int
    seconds: float


@dataclass
class ScriptResult:
    statements: list[StatementResult] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(max(s.rows, 0) for s in self.statements)


class StatementError(StepFailed):
    """A statement failed; keeps the database's message, the statement and its line."""

    def __init__(self, statement: Statement, original: BaseException, where: str = ""):
        self.statement = statement
        self.original = original
        self.where = where
        first_line = statement.sql.strip().splitlines()[0] if statement.sql.strip() else ""
        message = _script_line_of_copy_data(statement, str(original).strip())
        self.detail = {
            "statement": statement.sql,
            "line": statement.line,
            "database_message": message,
            "error_type": type(original).__name__,
        }
        super().__init__(
            f"{where}statement at line {statement.line} failed: "
            f"{type(original).__name__}: {message}\n    {first_line}"
        )

    def add_note_to_message(self, note: str) -> None:
        """What else happened because of the failure, told with it (and in the detail)."""
        self.detail["note"] = note
        self.args = (f"{self.args[0]}\n    ({note})",)


#: Where PostgreSQL says which row of a COPY's data it could not take.
_COPY_DATA_LINE = re.compile(r"(COPY [^\n]*?, line (\d+))")


def _script_line_of_copy_data(statement: Statement, message: str) -> str:
    """``message`` with the script's own line of the COPY data row it names (rows are
    counted from 1 on the line after the statement's last)."""
    if statement.copy_data is None:
        return message
    last_line = statement.line + statement.sql.count("\n")
    return _COPY_DATA_LINE.sub(
        lambda m: f"{m.group(1)} (line {last_line + int(m.group(2))} of the script)",
        message,
        count=1,
    )


def split(script: str, vendor: str = "") -> list[Statement]:
    """``script`` split into statements (by ``vendor``'s rules; generic without one)."""
    return list(split_statements(vendor, script))


def run_statements(
    dialect: Dialect, statements: Iterable[Statement], where: str = ""
) -> ScriptResult:
    """Execute statements in order; :class:`StatementError` names the failing one."""
    statements = tuple(statements)
    with dialect.connection.cursor() as cursor:
        try:
            done = dialect.run_script_statements(cursor, statements)
        except FailedAt as failure:
            raise StatementError(statements[failure.index], failure.error, where) from (
                failure.error
            )
    return ScriptResult(
        [
            StatementResult(statement.sql, statement.line, rows, seconds)
            for statement, (rows, seconds) in zip(statements, done, strict=True)
        ]
    )


class SentStatements:
    """A script sent whole (:meth:`Dialect.send_script`), read by :meth:`result`.

    Until :meth:`end`, any query through Django's connection first reads the script's
    results (raising its failure) and makes the connection usable again: code that asks
    something of the database meanwhile waits for the script instead of breaking the
    pipeline it is in."""

    def __init__(
        self, dialect: Dialect, statements: tuple[Statement, ...], where: str, sent: SentScript
    ) -> None:
        self._statements = statements
        self._where = where
        self._sent = sent
        self._result: ScriptResult | None = None
        self._error: StatementError | None = None
        self._wrappers: list[Any] = dialect.connection.execute_wrappers
        self._wrappers.append(self._before_query)

    def result(self) -> ScriptResult:
        """The statements' rows and seconds, waiting for them; :class:`StatementError`
        (every time it is asked) if one failed."""
        if self._result is None and self._error is None:
            try:
                done = self._sent.outcome()
            except FailedAt as failure:
                self._error = StatementError(
                    self._statements[failure.index], failure.error, self._where
                )
                self._error.__cause__ = failure.error
            else:
                self._result = ScriptResult(
                    [
                        StatementResult(statement.sql, statement.line, rows, seconds)
                        for statement, (rows, seconds) in zip(self._statements, done, strict=True)
                    ]
                )
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def end(self) -> None:
        """The connection Django's again (the results read, not raised)."""
        if self._before_query in self._wrappers:
            self._wrappers.remove(self._before_query)
        self._sent.end()

    def _before_query(self, execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        self.end()
        self.result()
        return execute(sql, params, many, context)


def send_statements(
    dialect: Dialect, statements: Iterable[Statement], where: str = ""
) -> SentStatements | None:
    """Send statements to run in the current transaction without waiting for them, where
    the dialect can (see :meth:`Dialect.send_script`); None, having sent nothing,
    otherwise."""
    statements = tuple(statements)
    sent = dialect.send_script(statements)
    return None if sent is None else SentStatements(dialect, statements, where, sent)


def check_validation(dialect: Dialect, query: str) -> tuple[bool, list[list[Any]]]:
    """A validation passes when its query returns no rows, or one row holding true."""
    with dialect.connection.cursor() as cursor:
        cursor.execute(query)
        rows = cursor.fetchmany(6)
    passed = not rows or (len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (True, 1))
    return passed, [[str(v) for v in row] for row in rows[:5]]
