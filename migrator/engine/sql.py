"""Splitting SQL into statements with a real parser, and running them with precise errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlparse
from django.db.backends.base.base import BaseDatabaseWrapper
from sqlparse.engine import FilterStack

from .errors import StepFailed


@dataclass
class Statement:
    """One statement of a script and the line of the script it starts on."""

    sql: str
    line: int


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
        super().__init__(
            f"{where}statement at line {statement.line} failed: "
            f"{type(original).__name__}: {str(original).strip()}\n    {first_line}"
        )


def _is_code(token: Any) -> bool:
    return not (token.is_whitespace or token.ttype in sqlparse.tokens.Comment)


def split(script: str) -> list[Statement]:
    """Statements of ``script``, without comments around them or the final ``;``.

    sqlparse does the lexing, so semicolons inside strings, dollar-quoted function bodies
    and comments do not split. ``line`` is where the statement's first token is. The
    script is parsed once; parsing is lossless, so offsets add up to line numbers.
    """
    statements: list[Statement] = []
    line = 1
    # The splitter without sqlparse's grouping pass: splitting needs tokens, not a tree.
    for parsed in FilterStack().run(script):
        tokens = list(parsed.flatten())
        code = [i for i, token in enumerate(tokens) if _is_code(token)]
        if code and tokens[code[-1]].match(sqlparse.tokens.Punctuation, ";"):
            code.pop()
        if code:
            first, last = code[0], code[-1]
            before = "".join(t.value for t in tokens[:first])
            statements.append(
                Statement(
                    "".join(t.value for t in tokens[first : last + 1]), line + before.count("\n")
                )
            )
        line += str(parsed).count("\n")
    return statements


def run_script(
    connection: BaseDatabaseWrapper, script: str, where: str = "", line_offset: int = 0
) -> ScriptResult:
    """Execute every statement of ``script``; :class:`StatementError` names the failing one."""
    result = ScriptResult()
    with connection.cursor() as cursor:
        for statement in split(script):
            statement.line += line_offset
            started = time.perf_counter()
            try:
                # No parameters: the SQL is the migration's own, '%' must reach the database.
                cursor.execute(statement.sql)
            except Exception as exc:  # noqa: BLE001 - re-raised with context
                raise StatementError(statement, exc, where) from exc
            result.statements.append(
                StatementResult(
                    statement.sql, statement.line, cursor.rowcount, time.perf_counter() - started
                )
            )
    return result
