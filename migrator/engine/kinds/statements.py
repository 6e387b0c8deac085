"""What SQL statements touch, read from their tokens (sqlparse; any dialect).

Used to decide which tables a backup must cover and whether a backup is enough to undo a
step (only row changes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlparse

from ...dialects import Statement

_TABLE_KEYWORDS = {"FROM", "INTO", "UPDATE", "TABLE", "JOIN", "EXISTS", "TRUNCATE", "ONLY"}
_ROW_VERBS = {"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "SELECT", "WITH", "VALUES"}


def verb(sql: str) -> str:
    """The statement's first keyword, upper-cased."""
    word = sql.lstrip("( \n\t").split(None, 1)
    return word[0].upper().rstrip(";") if word else ""


def tables_named(statements: Iterable[Statement]) -> set[str]:
    """Names following FROM, INTO, UPDATE, TABLE, JOIN... (unquoted)."""
    names: set[str] = set()
    for statement in statements:
        previous = ""
        for token in sqlparse.parse(statement.sql)[0].flatten():
            if token.is_whitespace or token.ttype in sqlparse.tokens.Comment:
                continue
            if previous in _TABLE_KEYWORDS and token.ttype in (
                sqlparse.tokens.Name,
                sqlparse.tokens.Literal.String.Symbol,
                None,
            ):
                names.add(token.value.strip('"`[]'))
            previous = token.value.upper() if token.ttype in sqlparse.tokens.Keyword else ""
    return names


def changes_rows_only(statements: Iterable[Statement]) -> bool:
    """Whether every statement only reads or changes rows (no DDL)."""
    return all(verb(statement.sql) in _ROW_VERBS for statement in statements)
