"""Malformed catalogs: each exits 2 naming the file (and line), never a traceback, never a
silent skip, never a partial sync; checked case by case and by random mutations."""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.models import Event, Migration, Step

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


def rejected(cli, path: str, *fragments: str) -> str:
    for command in ("sync", "status", "plan", "verify"):
        result = cli(command)
        assert result.code == 2, (command, result)
        assert path in result.err, (command, result.err)
        for fragment in fragments:
            assert fragment in result.err, (command, result.err)
        assert "Traceback" not in result.err + result.out
    assert not Migration.objects.exists() and not Event.objects.exists()
    return result.err


@pytest.fixture
def folder(catalog_dir: Path) -> Path:
    write(catalog_dir, "1_good.sql", marker_sql("CREATE TABLE good (id INT);", "DROP TABLE good;"))
    return catalog_dir


PY = "from migrator import dsl\n\n{body}\n"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("class Migration(dsl.Migration):\n    steps = None", "steps must be a list"),
        ("class Migration(dsl.Migration):\n    steps = 5", "steps must be a list"),
        ("class Migration(dsl.Migration):\n    steps = [dsl.RunPython(123)]", "must be a function"),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.RunSQL('SELECT 1', timeout=object())]",
            "options cannot be stored",
        ),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.RunSQL('SELECT 1', on_error='maybe')]",
            "on_error must be",
        ),
        (
            "class Migration(dsl.Migration):\n    release = 'r' * 60\n    steps = [dsl.RunSQL('SELECT 1')]",
            "release is 60 characters",
        ),
        (
            "class Migration(dsl.Migration):\n    author = 'a' * 300\n    steps = [dsl.RunSQL('SELECT 1')]",
            "author is 300 characters",
        ),
        (
            "class Migration(dsl.Migration):\n    risk = 'extreme'\n    steps = [dsl.RunSQL('SELECT 1')]",
            "risk must be",
        ),
        ("class Migration(dsl.Migration):\n    steps = [dsl.RunSQL('SELECT \\x00')]", "NUL"),
        ("raise SystemExit(0)", "SystemExit"),
        ("import sys\nsys.exit(3)", "SystemExit: 3"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.RunPython('no.such.function')]",
            "cannot be imported",
        ),
        (
            "class Migration(dsl.Migration):\n    foreign_keys = 'no'\n    steps = [dsl.RunSQL('SELECT 1')]",
            "foreign_keys must be",
        ),
        # A validation runs in the step's transaction: a second statement could end it.
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.RunSQL('SELECT 1', "
            "validation='SELECT 1 WHERE false; ROLLBACK')]",
            "step 1 validation is 2 statements",
        ),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.Validate('SELECT 1; COMMIT')]",
            "step 1 query is 2 statements",
        ),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.Transform(table='good', "
            "set={'id': 'id'}, key='pk', where='true; ROLLBACK')]",
            "where is an expression, not statements",
        ),
        (
            "class Migration(dsl.Migration):\n    steps = [dsl.Transform(table='good', "
            "set={'id': \"id + 1; ROLLBACK; SELECT 1\"}, key='pk')]",
            "set['id'] is an expression, not statements",
        ),
    ],
)
def test_bad_python_migrations(cli, folder: Path, body: str, fragment: str) -> None:
    write(folder, "2_bad.py", PY.format(body=body))
    rejected(cli, "2_bad.py", fragment)


def test_a_version_longer_than_its_column(cli, folder: Path) -> None:
    name = "1" * 120 + "_long.sql"
    write(folder, name, marker_sql("SELECT 1;"))
    rejected(cli, name, "version is 120 characters")


def test_a_nul_byte_in_sql_names_its_line(cli, folder: Path) -> None:
    (folder / "2_nul.sql").write_bytes(b"-- === UP MIGRATION ===\nSELECT 1;\nSELECT '\x00';\n")
    rejected(cli, "2_nul.sql:3", "NUL")


def test_a_binary_file(cli, folder: Path) -> None:
    (folder / "2_blob.sql").write_bytes(bytes(range(256)))
    rejected(cli, "2_blob.sql", "UTF-8")


def test_markers_of_two_tools_in_one_file(cli, folder: Path) -> None:
    write(folder, "2_both.sql", "-- +goose Up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n")
    rejected(cli, "2_both.sql", "mixes the markers of dbmate and goose")


@pytest.mark.parametrize(
    ("files", "named", "line"),
    [
        ({"V2__tail.sql": "CREATE TABLE t (id INT);\nSTART TRANSACTION;\n"}, "V2__tail.sql", 2),
        (
            {"2_x.up.sql": "SELECT 1;\n", "2_x.down.sql": "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\n"},
            "2_x.down.sql",
            4,
        ),
        ({"2_x/up.sql": "\n\nBEGIN;\nSELECT 1;\n"}, "2_x/up.sql", 3),
        (
            {
                "2_py.py": "from migrator import dsl\n\n\nclass Migration(dsl.Migration):\n"
                "    steps = [dsl.RunSQL('SELECT 1;\\nBEGIN;', backward='SELECT 2')]\n"
            },
            "2_py.py",
            None,
        ),
    ],
)
def test_a_transaction_a_script_never_ends(
    cli, folder: Path, files: dict[str, str], named: str, line: int | None
) -> None:
    """Run outside the step's transaction (a script of its own transactions), the script
    would leave it open: refused before anything runs, naming the file and the BEGIN."""
    for name, text in files.items():
        write(folder, name, text)
    err = rejected(cli, named, "never ends")
    if line is not None:
        assert f"{named}:{line}:" in err, err


def test_a_symlink_loop(cli, folder: Path) -> None:
    os.symlink(folder / "3_loop.sql", folder / "3_loop.sql")
    rejected(cli, "3_loop.sql", "symbolic link loop")


def test_a_broken_symlink(cli, folder: Path) -> None:
    os.symlink(folder / "nowhere.sql", folder / "3_gone.sql")
    rejected(cli, "3_gone.sql", "broken symbolic link")


def test_a_symlink_to_a_device(cli, folder: Path) -> None:
    os.symlink("/dev/null", folder / "3_device.sql")
    rejected(cli, "3_device.sql", "a device")


def test_a_fifo_named_like_a_migration(cli, folder: Path) -> None:
    os.mkfifo(folder / "3_pipe.sql")
    rejected(cli, "3_pipe.sql", "a FIFO")


def test_the_console_shows_catalog_errors_instead_of_failing(admin_client, folder: Path) -> None:
    write(folder, "2_bad.py", PY.format(body="raise SystemExit(0)"))
    response = admin_client.get("/admin/migrator/console/")
    assert response.status_code == 200
    assert b"2_bad.py" in response.content and b"SystemExit" in response.content


# -- random mutations of a real catalog -----------------------------------------------------

CATALOG = {
    "1_users.sql": marker_sql(
        "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20));", "DROP TABLE users;"
    ),
    "2_posts.up.sql": "-- Description: posts\nCREATE TABLE posts (id INT);\n",
    "2_posts.down.sql": "DROP TABLE posts;\n",
    "3_index.sql": "-- migrate:up transaction:false\nCREATE INDEX i ON users (name);\n"
    "-- migrate:down\nDROP INDEX i;\n",
    "4_more.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n"
    "-- +goose Down\nSELECT 2;\n",
    "V5__flyway.sql": "-- Release: 1.0\nCREATE TABLE f (id INT);\n",
    "6_folder/up.sql": "-- Risk: low\nCREATE TABLE g (id INT);\n",
    "6_folder/down.sql": "DROP TABLE g;\n",
    "7_python.py": "from migrator import dsl\n\n\nclass Migration(dsl.Migration):\n"
    "    release = '1.0'\n    steps = [dsl.RunSQL('SELECT 1', backward='SELECT 2', timeout=5)]\n",
}
TOKENS = [
    "-- === UP MIGRATION ===",
    "-- === DOWN MIGRATION ===",
    "-- === SIDEWAYS ===",
    "-- migrate:up",
    "-- migrate:down transaction:maybe",
    "-- +goose Up",
    "-- +goose Down",
    "-- +goose StatementBegin",
    "-- +goose StatementEnd",
    "-- +goose Sideways",
    "-- Risk: extreme",
    "-- Kind: weird",
    "-- Depends-On: 99",
    "-- Depends-On: 6",
    "-- Transaction: perhaps",
    "-- Release: " + "x" * 70,
    "\x00",
    "\ufeff",
    "é",
    ";",
    "$$",
    "/*",
    "BEGIN;",
    "COMMIT;",
    "ROLLBACK;",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE;",
    "${width}",
    "${flyway:defaultSchema}",
    "-- migrate:down transaction:False",
    "SET search_path TO nowhere;",
    "-- +goose ENVSUB ON",
    "${MIGRATOR_FUZZ_UNSET:?required}",
    "${MIGRATOR_FUZZ_UNSET:-${HOME",
    "${HOME: -3:x}",
    # What a script may do to the session and its transactions.
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;",
    "SET TRANSACTION READ ONLY;",
    "COMMIT AND CHAIN;",
    "SAVEPOINT s;",
    "ROLLBACK TO SAVEPOINT s;",
    "RELEASE SAVEPOINT s;",
    "END;",
    "ABORT;",
    "DISCARD ALL;",
    "PREPARE TRANSACTION 'fuzz';",
    "PRAGMA query_only = ON;",
    "SET statement_timeout = 1;",
]
mutation = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(TOKENS), st.integers(0, 400)),
    st.tuples(st.just("delete"), st.integers(0, 400), st.integers(1, 60)),
    st.tuples(st.just("bytes"), st.binary(min_size=1, max_size=8), st.integers(0, 400)),
    st.tuples(
        st.just("rename"),
        st.one_of(
            st.text(
                alphabet=string.ascii_letters + string.digits + "._-ü", min_size=1, max_size=20
            ),
            st.sampled_from(
                [
                    "0_zero.sql",
                    "20190226_1.sql",
                    "V20190226_10__x.sql",
                    "afterMigrate.sql",
                    "007.sql",
                ]
            ),
        ),
        st.integers(0, 400),
    ),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just(0)),
)


def write_mutated(folder: Path, target: str, changes: list) -> None:
    """The catalog written afresh in ``folder`` (whatever an earlier example left), then
    ``changes`` made to its file ``target``."""
    for entry in folder.iterdir():
        if entry.is_dir():
            for child in entry.iterdir():
                child.unlink()
            entry.rmdir()
        else:
            entry.unlink()
    for name, text in CATALOG.items():
        write(folder, name, text)
    path = folder / target
    for change in changes:
        path = _mutate(folder, path.relative_to(folder).as_posix(), change)


def _mutate(folder: Path, target: str, change: tuple) -> Path:
    path = folder / target
    data = path.read_bytes()
    kind, value, where = change
    where = min(where, len(data))
    if kind == "insert":
        data = data[:where] + b"\n" + value.encode() + b"\n" + data[where:]
    elif kind == "delete":
        data = data[:value] + data[value + where :]
    elif kind == "bytes":
        data = data[:where] + value + data[where:]
    elif kind == "truncate":
        data = data[: min(value, len(data))]
    elif kind == "rename" and value not in (".", ".."):
        new = path.with_name(value)
        if not new.exists():
            path.rename(new)
            return new
    path.write_bytes(data)
    return path


def mutated_catalogs(examples: int) -> Callable[[Callable[..., None]], Any]:
    """A property test over mutations of the catalog: ``target`` (a file of it) and
    ``changes`` (one to three mutations); ``MIGRATOR_FUZZ_EXAMPLES`` examples, or
    ``examples``."""

    def decorate(test: Callable[..., None]) -> Any:
        return settings(
            max_examples=int(os.environ.get("MIGRATOR_FUZZ_EXAMPLES", str(examples))),
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )(
            given(
                target=st.sampled_from(sorted(CATALOG)),
                changes=st.lists(mutation, min_size=1, max_size=3),
            )(test)
        )

    return decorate


@mutated_catalogs(150)
def test_random_mutations_exit_0_or_2_naming_the_file(
    cli, catalog_dir: Path, target: str, changes: list
) -> None:
    write_mutated(catalog_dir, target, changes)
    Step.objects.all().delete()
    Migration.objects.all().delete()
    Event.objects.all().delete()
    result = cli("sync")
    assert result.code in (0, 2), result
    assert "Traceback" not in result.err + result.out
    if result.code == 2:
        assert str(catalog_dir) in result.err, result.err  # every problem names a file of it
        assert not Migration.objects.exists()  # nothing synced
    else:
        status = cli("status", "--json")
        assert status.code == 0, status
