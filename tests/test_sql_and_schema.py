"""Statement splitting (a real lexer) and schema diffs (breaking changes flagged)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.db import connection

from migrator.dialects import dialect_for
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


def test_a_copy_from_stdin_takes_the_lines_after_it_as_its_data() -> None:
    """As psql (and Flyway) read a dump: the lines after ``COPY ... FROM STDIN;`` up to
    ``\\.`` are data, whatever they hold; a COPY inside a function body, a string or a
    comment is no such statement; lines go on counting after the data."""
    script = (
        "CREATE TABLE t (id int, label text);\n"
        "/* COPY t FROM stdin;\n*/\n"
        "COPY public.t (id, label) FROM stdin;\n"
        "1\tone; two\n"
        "2\tit's -- no comment\n"
        "3\t\\N\n"
        "\\.\n"
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN\nCOPY t FROM stdin;\nEND $$;\n"
        "SELECT 'x\nCOPY t FROM stdin;\n';\n"
        "copy t (id, label) from STDIN with (delimiter ';', null 'x');  -- csv-ish\n"
        "4;four\n"
        "\\.\n"
        "SELECT count(*) FROM t;\n"
    )
    assert [(s.line, s.sql, s.copy_data) for s in split(script, "postgresql")] == [
        (1, "CREATE TABLE t (id int, label text)", None),
        (4, "COPY public.t (id, label) FROM stdin", "1\tone; two\n2\tit's -- no comment\n3\t\\N\n"),
        (
            9,
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\nCOPY t FROM stdin;\nEND $$",
            None,
        ),
        (13, "SELECT 'x\nCOPY t FROM stdin;\n'", None),
        (16, "copy t (id, label) from STDIN with (delimiter ';', null 'x')", "4;four\n"),
        (19, "SELECT count(*) FROM t", None),
    ]
    # Windows line ends; data without its "\\." line runs to the end (psql's rule: the
    # server then says what it cannot read).
    assert [
        (s.line, s.copy_data)
        for s in split("COPY t FROM stdin;\r\n1\r\n\\.\r\nSELECT 1;", "postgresql")
    ] == [
        (1, "1\r\n"),
        (4, None),
    ]
    assert [s.copy_data for s in split("COPY t FROM stdin;\n1\n2\n", "postgresql")] == ["1\n2\n"]
    # Elsewhere "stdin" is a word like any other.
    assert [s.copy_data for s in split("SELECT 'stdin';\nCOPY t TO STDOUT;", "postgresql")] == [
        None,
        None,
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


def _captured_after(statements: list[str], cleanup: list[str]) -> dict[str, Any]:
    """The schema captured after ``statements`` ran (``cleanup`` run after, whatever
    happens)."""
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    try:
        return dialect_for("default").capture_schema()
    finally:
        with connection.cursor() as cursor:
            for statement in cleanup:
                cursor.execute(statement)


@pytest.mark.django_db(transaction=True)
def test_a_captured_schema_has_every_key_index_and_size() -> None:
    """What the schema capture reads in a few statements whatever the number of tables."""
    sqlite = connection.vendor == "sqlite"
    statements = [
        "CREATE TABLE cap_parent (id INTEGER PRIMARY KEY, code VARCHAR(10) UNIQUE, "
        "CONSTRAINT cap_positive CHECK (id > 0))",
        "CREATE TABLE cap_child (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER, "
        "parent_id INTEGER REFERENCES cap_parent (id) ON DELETE CASCADE)",
        "CREATE INDEX cap_child_ab ON cap_child (a, b)",
        "CREATE INDEX cap_child_some ON cap_child (b) WHERE a > 5",
        "INSERT INTO cap_parent VALUES (1, 'x'), (2, 'y'), (3, 'z')",
    ]
    if sqlite:
        statements += [
            "CREATE INDEX cap_child_lower ON cap_child (abs(b))",
            "CREATE TABLE cap_keyed (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID",
            "INSERT INTO cap_keyed VALUES ('a', 1), ('b', 2)",
        ]
    cleanup = [f"DROP TABLE IF EXISTS {t}" for t in ("cap_child", "cap_keyed", "cap_parent")]
    tables = _captured_after(statements, cleanup)["tables"]
    child, parent = tables["cap_child"], tables["cap_parent"]
    assert child["columns"]["a"]["nullable"] is False and child["columns"]["b"]["nullable"]
    assert child["primary_key"] == ["id"]
    assert child["indexes"]["cap_child_ab"]["columns"] == ["a", "b"]
    assert "a > 5" in child["indexes"]["cap_child_some"]["where"]
    [foreign_key] = [c for c in child["constraints"].values() if c["type"] == "foreign_key"]
    assert foreign_key["columns"] == ["parent_id"]
    assert foreign_key["references"][0].endswith("cap_parent")
    assert [c["columns"] for c in parent["constraints"].values() if c["type"] == "unique"] == [
        ["code"]
    ]
    assert any("id > 0" in c.get("definition", "") for c in parent["constraints"].values())
    assert parent["bytes"] > 0
    if sqlite:
        assert parent["rows"] == 3
        assert child["indexes"]["cap_child_lower"]["columns"] == ["<expression>"]
        assert tables["cap_keyed"]["rows"] == 2  # no rowid: counted
        assert tables["cap_keyed"]["primary_key"] == ["k"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="extensions: PostgreSQL's")
def test_objects_of_an_extension_are_left_out_and_a_sequence_knows_its_column() -> None:
    """What the capture asks ``pg_depend`` about: an extension's own functions and types
    are not the schema's; a serial column's sequence is owned by it."""
    statements = [
        "CREATE EXTENSION IF NOT EXISTS citext",
        "CREATE TABLE dep_t (id SERIAL PRIMARY KEY, name citext)",
        "CREATE VIEW dep_v AS SELECT id FROM dep_t",
        "CREATE FUNCTION dep_f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 1'",
    ]
    cleanup = [
        "DROP VIEW IF EXISTS dep_v",
        "DROP TABLE IF EXISTS dep_t",
        "DROP FUNCTION IF EXISTS dep_f(integer)",
        "DROP EXTENSION IF EXISTS citext",
    ]
    schema = _captured_after(statements, cleanup)
    assert schema["sequences"]["dep_t_id_seq"]["owned_by"] == "dep_t.id"
    assert "dep_v" in schema["views"]
    functions = list(schema["functions"])
    assert any(name.startswith("dep_f") for name in functions), functions
    # citext brings dozens of functions of its own: none of them is the schema's.
    assert not any("citext" in name for name in functions), functions


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="column numbers: PostgreSQL's")
def test_key_columns_are_named_in_the_keys_order_whatever_the_tables_column_numbers() -> None:
    """Constraints name their columns by number: a key over columns in another order than
    the table's, after a dropped column, and a foreign key to a table of another schema
    name theirs as written."""
    statements = [
        "CREATE SCHEMA cap_other",
        "CREATE TABLE cap_other.region (code TEXT, country TEXT, PRIMARY KEY (country, code))",
        "CREATE TABLE cap_site (gone INTEGER, a INTEGER, b TEXT, c TEXT, d TEXT)",
        "ALTER TABLE cap_site DROP COLUMN gone",
        "ALTER TABLE cap_site ADD PRIMARY KEY (c, a)",
        "ALTER TABLE cap_site ADD CONSTRAINT cap_site_bd UNIQUE (d, b)",
        "ALTER TABLE cap_site ADD CONSTRAINT cap_site_region FOREIGN KEY (d, b) "
        "REFERENCES cap_other.region (country, code)",
    ]
    cleanup = ["DROP TABLE IF EXISTS cap_site", "DROP SCHEMA IF EXISTS cap_other CASCADE"]
    schema = _captured_after(statements, cleanup)
    site = schema["tables"]["cap_site"]
    assert list(site["columns"]) == ["a", "b", "c", "d"]
    assert site["primary_key"] == ["c", "a"]
    assert site["constraints"]["cap_site_bd"]["columns"] == ["d", "b"]
    foreign_key = site["constraints"]["cap_site_region"]
    assert foreign_key["columns"] == ["d", "b"]
    assert foreign_key["references"] == ["cap_other.region", "country", "code"]
    assert schema["tables"]["cap_other.region"]["primary_key"] == ["country", "code"]


def test_sqlite_sizes_are_the_same_in_one_pass_and_per_table(
    tmp_path, monkeypatch, django_db_blocker
) -> None:
    """A big file is read B-tree by B-tree, a small one in one pass: same bytes (on a
    SQLite file of its own, whatever database the suite runs on)."""
    from django.db.utils import ConnectionHandler

    from migrator.dialects import sqlite as sqlite_dialect

    name = str(tmp_path / "sizes.sqlite3")
    own = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": name}})
    names = ["size_a", "size_a_blob", "size_b"]
    with django_db_blocker.unblock():
        try:
            with own["default"].cursor() as cursor:
                cursor.execute("CREATE TABLE size_a (id INTEGER PRIMARY KEY, blob TEXT)")
                cursor.execute("CREATE INDEX size_a_blob ON size_a (blob)")
                cursor.execute("CREATE TABLE size_b (id INTEGER PRIMARY KEY)")
                cursor.executemany("INSERT INTO size_a (blob) VALUES (%s)", [("x" * 500,)] * 200)
            dialect = dialect_for(own["default"])
            one_pass = dialect.relation_sizes(names)
            monkeypatch.setattr(sqlite_dialect, "_ONE_PASS_BYTES", 0)
            monkeypatch.setattr(sqlite_dialect, "_PAGES_PER_QUERY", 0)
            per_table = dialect.relation_sizes(names)
        finally:
            own.close_all()
    assert one_pass == per_table
    assert one_pass is not None and one_pass["size_a"] > 100_000 and one_pass["size_a_blob"] > 0
    assert one_pass["size_b"] == 4096
