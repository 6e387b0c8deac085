"""What SQL statements touch, read from their tokens (sqlparse; any dialect).

Used to decide which tables a backup must cover and whether a backup is enough to undo a
step (only row changes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from sqlparse import lexer, tokens

from ...dialects import Statement

_TABLE_KEYWORDS = {"FROM", "INTO", "UPDATE", "TABLE", "JOIN", "EXISTS", "TRUNCATE", "ONLY"}
_ROW_VERBS = {"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "SELECT", "WITH", "VALUES"}


def verb(sql: str) -> str:
    """The statement's first keyword, upper-cased."""
    word = sql.lstrip("( \n\t").split(None, 1)
    return word[0].upper().rstrip(";") if word else ""


#: Where an INSERT's rows begin: what follows names no table it changes (a dump's
#: thousands of rows are not lexed for a name that comes before them).
_VALUES = re.compile(r"\bVALUES\b", re.IGNORECASE)


@lru_cache(maxsize=16384)
def _named(sql: str) -> frozenset[str]:
    if sql[:6].upper() == "INSERT":
        rows = _VALUES.search(sql)
        if rows is not None:
            sql = sql[: rows.start()]
    names: set[str] = set()
    previous = ""
    # The lexer alone (no grouping pass): names follow keywords, which is all this needs.
    for ttype, value in lexer.tokenize(sql):
        if ttype in tokens.Whitespace or ttype in tokens.Newline or ttype in tokens.Comment:
            continue
        if previous in _TABLE_KEYWORDS and (
            ttype in tokens.Name or ttype in tokens.Literal.String.Symbol
        ):
            names.add(value.strip('"`[]'))
        previous = value.upper() if ttype in tokens.Keyword else ""
    return frozenset(names)


def tables_named(statements: Iterable[Statement]) -> set[str]:
    """Names following FROM, INTO, UPDATE, TABLE, JOIN... (unquoted)."""
    names: set[str] = set()
    for statement in statements:
        names |= _named(statement.sql)
    return names


def changes_rows_only(statements: Iterable[Statement]) -> bool:
    """Whether every statement only reads or changes rows (no DDL)."""
    return all(verb(statement.sql) in _ROW_VERBS for statement in statements)
