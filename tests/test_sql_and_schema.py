"""Statement splitting (a real lexer) and schema diffs (breaking changes flagged)."""

from __future__ import annotations

import copy

from migrator.engine.sql import split
from migrator.schema import diff_schemas


def test_split_copes_with_dollar_quotes_strings_and_comments() -> None:
    script = (
        "-- header; with a semicolon\n"
        "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
        "\n"
        "/* block; comment */\n"
        "SELECT ';' ; -- trailing\n"
        "-- only a comment;\n"
        "UPDATE t SET x = 1 WHERE y LIKE '%a';"
    )
    assert [(s.line, s.sql) for s in split(script)] == [
        (2, "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql"),
        (5, "SELECT ';'"),
        (7, "UPDATE t SET x = 1 WHERE y LIKE '%a'"),
    ]


def test_split_of_comments_only_is_empty() -> None:
    assert split("-- nothing\n/* at all */\n") == []


def _schema() -> dict:
    return {
        "tables": {
            "users": {
                "columns": {
                    "id": {"type": "integer", "nullable": False, "default": None},
                    "email": {"type": "text", "nullable": True, "default": None},
                },
                "primary_key": ["id"],
                "indexes": {},
                "constraints": {},
            }
        }
    }


def test_diff_flags_breaking_changes() -> None:
    old = _schema()
    new = copy.deepcopy(old)
    users = new["tables"]["users"]
    users["columns"]["email"]["nullable"] = False
    users["columns"]["age"] = {"type": "integer", "nullable": False, "default": None}
    users["columns"]["nick"] = {"type": "text", "nullable": True, "default": None}
    users["indexes"]["users_email"] = {"columns": ["email"], "unique": True}
    new["tables"]["audit"] = copy.deepcopy(old["tables"]["users"])
    changes = {(c["change"], c["detail"]): c["breaking"] for c in diff_schemas(old, new)}
    assert changes == {
        ("table_added", "audit"): False,
        ("column_added", "age integer"): True,  # NOT NULL without a default
        ("column_added", "nick text"): False,
        ("nullability_changed", "email: NULL → NOT NULL"): True,
        ("index_added", "users_email ['email']"): True,  # unique
    }
    reverse = {(c["change"], c["table"]) for c in diff_schemas(new, old) if c["breaking"]}
    assert ("table_removed", "audit") in reverse and ("column_removed", "users") in reverse


def test_no_changes_no_diff() -> None:
    assert diff_schemas(_schema(), _schema()) == []
