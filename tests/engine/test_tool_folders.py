"""Folders shaped like real projects of each tool, read with that tool's rules, applied on
SQLite and PostgreSQL, and compared with executing the same files the tool's way.

The reference is the up SQL of each migration, in the tool's order, executed directly on
a second database ("analytics"); migrator applies the folder to "default". Both schemas
must be the same. Then what the folder can roll back is rolled back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from migrator import services
from migrator.catalog import load_catalog
from migrator.catalog.formats.base import has_statements
from migrator.dialects import dialect_for, split_statements
from migrator.models import Deployment, Migration, StepRun
from migrator.states import Status

from ..conftest import write

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])

_VOLATILE = {"rows", "bytes", "privileges"}


def _shape(alias: str) -> dict[str, Any]:
    """A schema without what differs between two databases holding the same schema."""
    schema = dialect_for(alias).capture_schema()
    tables = {
        name: {k: v for k, v in table.items() if k not in _VOLATILE}
        for name, table in schema["tables"].items()
    }
    for table in tables.values():
        for index in table["indexes"].values():
            index.pop("bytes", None)
    return {"tables": tables, "views": schema["views"], "functions": sorted(schema["functions"])}


def _reference(scripts: list[str]) -> None:
    """Execute each migration's up SQL as its tool would: the whole script, in order."""
    connection = connections["analytics"]
    connection.ensure_connection()
    for script in scripts:
        if connection.vendor == "sqlite":
            connection.connection.executescript(script)
        else:
            connection.set_autocommit(True)
            with connection.cursor() as cursor:
                cursor.execute(script)


@pytest.fixture
def pg() -> bool:
    return connections["default"].vendor == "postgresql"


def write_all(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        write(folder, name, text)


def _versions(folder: Path) -> list[str]:
    return [s.version for s in load_catalog().for_database("default")]


def _warnings() -> list[str]:
    return [Path(w.path).name + ": " + w.message for w in load_catalog().warnings]


def test_a_diesel_project(catalog_dir: Path, cli, pg: bool) -> None:
    setup_up = (
        "CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$\n"
        "BEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n"
        if pg
        else "CREATE TABLE diesel_setup (id INTEGER PRIMARY KEY);\n"
    )
    setup_down = (
        "DROP FUNCTION IF EXISTS diesel_set_updated_at();\n" if pg else "DROP TABLE diesel_setup;\n"
    )
    concurrently = "CONCURRENTLY " if pg else ""
    files = {
        "00000000000000_diesel_initial_setup/up.sql": setup_up,
        "00000000000000_diesel_initial_setup/down.sql": setup_down,
        "2017-08-31-230457_create_users/up.sql": (
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n"
            "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'bob');\n"
        ),
        "2017-08-31-230457_create_users/down.sql": "DROP TABLE users;\n",
        "2017-09-01-101010_index_users/up.sql": f"CREATE INDEX {concurrently}users_name ON users (name);\n",
        "2017-09-01-101010_index_users/down.sql": f"DROP INDEX {concurrently}users_name;\n",
        "2017-09-01-101010_index_users/metadata.toml": "run_in_transaction = false\n",
        "2018-01-01-000000_posts/up.sql": (
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\n"
        ),
        "2018-01-01-000000_posts/down.sql": "DROP TABLE posts;\n",
        "2025-11-19-091444-0000_add_flag/up.sql": "ALTER TABLE users ADD COLUMN flag INTEGER DEFAULT 0;\n",
        "2025-11-19-091444-0000_add_flag/down.sql": "",
        "README.md": "# migrations\n",
        "data_seed.sql": "INSERT INTO users VALUES (3, 'eve');\n",
    }
    write_all(catalog_dir, files)
    assert load_catalog().flavors[str(catalog_dir)] == "diesel"
    assert _versions(catalog_dir) == [
        "00000000000000",
        "2017-08-31-230457",
        "2017-09-01-101010",
        "2018-01-01-000000",
        "2025-11-19-091444-0000",
    ]
    warnings = _warnings()
    assert any(w.startswith("data_seed.sql: not a diesel migration") for w in warnings)
    assert not any(w.startswith("README.md") for w in warnings)
    catalog = load_catalog()
    index = catalog.get("default", "20170901101010")  # diesel's own form of the version
    assert index is not None and not index.steps[0].transactional
    flag = catalog.get("default", "2025-11-19-091444-0000")
    assert flag is not None and flag.reversible and flag.steps[0].options["noop_down"]

    before = _shape("default")
    assert cli("apply", "--yes").code == 0
    _reference([text for name, text in sorted(files.items()) if name.endswith("/up.sql")])
    assert _shape("default") == _shape("analytics")
    assert cli("rollback", "--steps", "5", "--yes").code == 0
    assert _shape("default") == before and not Migration.objects.filter(applied=True).exists()


def test_a_golang_migrate_project(catalog_dir: Path, cli, pg: bool) -> None:
    concurrently = "CONCURRENTLY " if pg else ""
    files = {
        "1_create_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n",
        "1_create_users.down.sql": "DROP TABLE users;\n",
        "2_index.up.sql": f"CREATE INDEX {concurrently}users_name ON users (name);\n",
        "2_index.down.sql": f"DROP INDEX {concurrently}users_name;\n",
        "30_ignore_autotag.up..sql": "ALTER TABLE users ADD COLUMN tag VARCHAR(10);\n",
        "30_ignore_autotag.down..sql": "ALTER TABLE users DROP COLUMN tag;\n",
        "31_noop.up.sql": "-- kept so that the numbering stays; nothing to do\n",
        "31_noop.down.sql": "",
        "README.md": "how to migrate\n",
        "notes.txt": "not a migration\n",
        "fixtures/users.csv": "1,ada\n",
    }
    write_all(catalog_dir, files)
    assert load_catalog().flavors[str(catalog_dir)] == "golang-migrate"
    assert _versions(catalog_dir) == ["1", "2", "30", "31"]
    warnings = _warnings()
    assert any(w.startswith("notes.txt: not a golang-migrate migration") for w in warnings)
    assert any(w.startswith("fixtures: not a golang-migrate migration") for w in warnings)
    catalog = load_catalog()
    assert "ADD COLUMN tag" in catalog.get("default", "30").steps[0].forward
    assert not has_statements(catalog.get("default", "31").steps[0].forward)  # a no-op
    assert catalog.get("default", "2").steps[0].transactional is (not pg)

    assert cli("apply", "--yes").code == 0
    _reference(
        [files[n] for n in ("1_create_users.up.sql", "2_index.up.sql", "30_ignore_autotag.up..sql")]
    )
    assert _shape("default") == _shape("analytics")
    assert cli("rollback", "--to", "1", "--yes").code == 0
    assert list(_shape("default")["tables"]["users"]["columns"]) == ["id", "name"]


def test_a_flyway_project(catalog_dir: Path, cli, pg: bool) -> None:
    index = (
        "CREATE INDEX CONCURRENTLY users_name ON users (name);\n"
        if pg
        else ("CREATE INDEX users_name ON users (name);\n")
    )
    view = (
        "CREATE OR REPLACE VIEW users_view AS SELECT id, name FROM users;\n"
        if pg
        else (
            "DROP VIEW IF EXISTS users_view;\nCREATE VIEW users_view AS SELECT id, name FROM users;\n"
        )
    )
    files = {
        "V1__create_users.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n",
        "V1_1__add_email.sql": "ALTER TABLE users ADD COLUMN email VARCHAR(80);\n",
        "V2__index_users.sql": index,
        "U2__index_users.sql": "DROP INDEX users_name;\n",
        "R__users_view.sql": view,
        "2024/V3__posts.sql": "CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(20));\n",
        "2024/U3__posts.sql": "DROP TABLE posts;\n",
        "notes.txt": "not a migration\n",
        "beforeMigrate.sql": "CREATE TABLE IF NOT EXISTS migrate_log (what VARCHAR(40));\n",
        "afterVersioned.sql": "INSERT INTO migrate_log VALUES ('versioned done');\n",
        "afterMigrate__log.sql": "INSERT INTO migrate_log VALUES ('migrated');\n",
        "beforeEachMigrate.sql": "SELECT 1;\n",
        "B1_1__baseline.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50),"
        " email VARCHAR(80));\n",
    }
    if not pg:  # told by a script config where the statement does not tell
        files["V2__index_users.sql.conf"] = "# script config\nexecuteInTransaction=false\n"
    write_all(catalog_dir, files)
    catalog = load_catalog()
    assert catalog.flavors[str(catalog_dir)] == "flyway"
    assert _versions(catalog_dir) == [
        "1",
        "1.1",
        "2",
        "3",
        "R__users_view",
        "afterMigrate__log",
        "afterVersioned",
        "beforeMigrate",
    ]
    assert not catalog.get("default", "2").steps[0].transactional
    assert any(w.startswith("notes.txt: not a Flyway migration") for w in _warnings())
    # The callbacks of migrate run at their events; another event's is said not to run.
    assert any(
        w.startswith("beforeEachMigrate.sql: a Flyway callback (beforeEachMigrate)")
        for w in _warnings()
    )
    # A baseline migration is said to be one (Flyway does not ignore it), not run.
    assert any(
        w.startswith("B1_1__baseline.sql: a Flyway baseline migration (1.1)") for w in _warnings()
    )
    status = cli("status", "--json").json()["databases"][0]
    assert status["callbacks"] == ["afterMigrate__log", "afterVersioned", "beforeMigrate"]
    assert "afterMigrate__log" not in status["pending"]
    assert "afterMigrate__log" not in status["irreversible"]
    assert not any(w.startswith("afterMigrate__log.sql: irreversible") for w in _warnings())

    assert cli("apply", "--yes").code == 0
    order = [
        "beforeMigrate.sql",
        "V1__create_users.sql",
        "V1_1__add_email.sql",
        "V2__index_users.sql",
        "2024/V3__posts.sql",
        "afterVersioned.sql",
        "R__users_view.sql",
        "afterMigrate__log.sql",
    ]
    _reference([files[n] for n in order])
    assert _shape("default") == _shape("analytics")
    status = cli("status", "--json").json()["databases"][0]
    assert status["pending"] == [] and status["current_version"] == "3"
    assert _log() == ["versioned done", "migrated"]

    # A repeatable script runs again when it changes (and is not "drifted"), and the
    # callbacks with it; nothing to apply runs none.
    (catalog_dir / "R__users_view.sql").write_text(view.replace("id, name", "id, name, email"))
    status = cli("status", "--json").json()["databases"][0]
    assert status["pending"] == ["R__users_view"] and status["drifted"] == []
    assert cli("apply", "--yes").code == 0
    assert "email" in str(_shape("default")["views"]["users_view"])
    assert _log()[2:] == ["versioned done", "migrated"]
    assert "nothing" in cli("apply", "--yes").out.lower()
    assert len(_log()) == 4
    # Rolling back takes back migrations, never callbacks.
    assert cli("rollback", "--to", "1.1", "--yes").code == 0
    assert "users_name" not in _shape("default")["tables"]["users"]["indexes"]
    assert len(_log()) == 4 and "migrate_log" in dialect_for("default").table_names()
    # A callback removed after it ran is no migration gone missing.
    (catalog_dir / "afterVersioned.sql").unlink()
    status = cli("status", "--json").json()["databases"][0]
    assert status["missing"] == [] and "afterVersioned" not in status["callbacks"]
    assert cli("verify").code == 0


def _log() -> list[str]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT what FROM migrate_log")
        return [what for (what,) in cursor.fetchall()]


def test_a_failed_flyway_deployment_keeps_its_callbacks(catalog_dir: Path, cli) -> None:
    """The automatic rollback of a failed deployment takes back its migrations, not the
    beforeMigrate callback that ran first (Flyway has no undo of callbacks either), and
    afterMigrate never runs."""
    write_all(
        catalog_dir,
        {
            "beforeMigrate.sql": "CREATE TABLE IF NOT EXISTS migrate_log (what VARCHAR(40));\n",
            "V1__t.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
            "U1__t.sql": "DROP TABLE t;\n",
            "V2__broken.sql": "INSERT INTO no_such_table VALUES (1);\n",
            "U2__broken.sql": "SELECT 1;\n",
            "afterMigrate.sql": "INSERT INTO migrate_log VALUES ('migrated');\n",
        },
    )
    result = cli("apply", "--yes")
    assert result.code == 1, result
    tables = dialect_for("default").table_names()
    assert "t" not in tables and "migrate_log" in tables
    assert _log() == []
    assert not Migration.objects.filter(applied=True, repeatable=False).exists()


def test_a_goose_project_with_a_go_migration(catalog_dir: Path, cli, pg: bool) -> None:
    files = {
        "00001_create_users.sql": (
            "-- +goose Up\n-- +goose StatementBegin\n"
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n"
            "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE users;\n"
        ),
        "00002_lowercase.sql": (
            "-- +goose up\n-- +goose no transaction\nCREATE INDEX users_name ON users (name);\n"
            "-- +goose down\nDROP INDEX users_name;\n"
        ),
        "00003_seed.go": "package migrations\n\nfunc init() {}\n",
        "00004_after.sql": (
            "-- +goose Up\nCREATE TABLE after_go (id INTEGER PRIMARY KEY);\n"
            "-- +goose Down\nDROP TABLE after_go;\n"
        ),
    }
    write_all(catalog_dir, files)
    assert load_catalog().flavors[str(catalog_dir)] == "goose"
    status = cli("status", "--json").json()["databases"][0]
    assert status["unsupported"] == ["00003"]
    assert "not a diesel" not in cli("status").out and "UNSUPPORTED" in cli("status").out
    lowercase = load_catalog().get("default", "2")
    assert lowercase is not None and not lowercase.steps[0].transactional

    result = cli("apply", "--yes")
    assert result.code == 1 and "00003" in result.err and "mark-done" in result.err
    applied = set(Migration.objects.filter(applied=True).values_list("version", flat=True))
    assert applied == {"00001", "00002"}
    assert cli("mark-done", "00003", "--reason", "ran goose up-to 3 by hand").code == 0
    assert cli("apply", "--yes").code == 0
    _reference(
        [
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));",
            "CREATE INDEX users_name ON users (name);",
            "CREATE TABLE after_go (id INTEGER PRIMARY KEY);",
        ]
    )
    assert _shape("default") == _shape("analytics")
    assert Migration.objects.get(version="00003").marked_done


def test_goose_envsub(catalog_dir: Path, cli, pg: bool, monkeypatch) -> None:
    """``-- +goose ENVSUB ON``: variables expanded as goose expands them (defaults, unset
    versus empty, substrings), dollar quotes and ``$1`` kept, nothing expanded after
    ``ENVSUB OFF``; a required variable that is not set is an error naming its line."""
    monkeypatch.setenv("TABLE_PREFIX", "app_")
    monkeypatch.setenv("TIER", "")
    monkeypatch.setenv("DEPLOY_ENV", "production")
    monkeypatch.delenv("REGION", raising=False)
    if pg:
        routine = (
            "CREATE FUNCTION ${TABLE_PREFIX}double(n integer) RETURNS integer AS $$\n"
            "BEGIN\n  RETURN $1 * 2;\nEND;\n$$ LANGUAGE plpgsql;\n"
        )
        routine_expanded = routine.replace("${TABLE_PREFIX}", "app_")
    else:
        routine = (
            "CREATE TRIGGER ${TABLE_PREFIX}stamp AFTER INSERT ON ${TABLE_PREFIX}accounts\n"
            "BEGIN\n  UPDATE ${TABLE_PREFIX}accounts SET note = 'new'"
            " WHERE id = NEW.id AND note IS NULL;\nEND;\n"
        )
        routine_expanded = routine.replace("${TABLE_PREFIX}", "app_")
    files = {
        "00001_accounts.sql": (
            "-- +goose ENVSUB ON\n-- +goose Up\n"
            "CREATE TABLE ${TABLE_PREFIX}accounts (id INTEGER PRIMARY KEY,"
            " region VARCHAR(20) DEFAULT '${REGION:-eu}', tier VARCHAR(20) DEFAULT"
            " '${TIER-basic}', env VARCHAR(4) DEFAULT '${DEPLOY_ENV:0:4}', note VARCHAR(20));\n"
            f"-- +goose StatementBegin\n{routine}-- +goose StatementEnd\n"
            "-- +goose ENVSUB OFF\n"
            "INSERT INTO app_accounts (id, note) VALUES (1, '${NOT_EXPANDED}');\n"
            "-- +goose ENVSUB ON\n"
            "-- +goose Down\nDROP TABLE ${TABLE_PREFIX}accounts;\n"
            + ("DROP FUNCTION app_double;\n" if pg else "")
        ),
    }
    write_all(catalog_dir, files)
    assert cli("apply", "--yes").code == 0
    _reference(
        [
            "CREATE TABLE app_accounts (id INTEGER PRIMARY KEY, region VARCHAR(20) DEFAULT 'eu',"
            " tier VARCHAR(20) DEFAULT '', env VARCHAR(4) DEFAULT 'prod', note VARCHAR(20));\n"
            + routine_expanded
            + "INSERT INTO app_accounts (id, note) VALUES (1, '${NOT_EXPANDED}');"
        ]
    )
    assert _shape("default") == _shape("analytics")
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT note, region, tier, env FROM app_accounts")
        assert cursor.fetchall() == [("${NOT_EXPANDED}", "eu", "", "prod")]
    assert cli("rollback", "--steps", "1", "--yes").code == 0
    assert "app_accounts" not in dialect_for("default").table_names()

    write(
        catalog_dir,
        "00002_owner.sql",
        "-- +goose Up\n-- +goose ENVSUB ON\n"
        "ALTER TABLE app_accounts ADD COLUMN owner VARCHAR(20) DEFAULT"
        " '${ACCOUNT_OWNER:?set ACCOUNT_OWNER to the owning team}';\n",
    )
    monkeypatch.delenv("ACCOUNT_OWNER", raising=False)
    result = cli("status")
    assert result.code == 2, result
    assert "00002_owner.sql" in result.err and ":3" in result.err, result.err
    assert "set ACCOUNT_OWNER to the owning team" in result.err, result.err


def test_a_dbmate_project(catalog_dir: Path, cli, pg: bool) -> None:
    concurrently = "CONCURRENTLY " if pg else ""
    files = {
        "20230101000000_create_users.sql": (
            "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n\n"
            "-- migrate:down\nDROP TABLE users;\n"
        ),
        "20230102000000_index_users.sql": (
            f"-- migrate:up transaction:false\nCREATE INDEX {concurrently}users_name ON users (name);\n\n"
            "-- migrate:down\nDROP INDEX users_name;\n"
        ),
        "20230103000000_nothing_to_undo.sql": (
            "-- migrate:up\nINSERT INTO users (id, name) VALUES (1, 'ada');\n-- migrate:down\n"
        ),
        # dbmate's pattern is ^(\d+).*\.sql$: the leading digits are the version, with or
        # without an underscore after them.
        "20230104000000-seed-more.sql": (
            "-- migrate:up\nINSERT INTO users (id, name) VALUES (2, 'bob');\n"
            "-- migrate:down\nDELETE FROM users WHERE id = 2;\n"
        ),
        "20230105000000.sql": (
            "-- migrate:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n"
            "-- migrate:down\nDROP TABLE tags;\n"
        ),
        "schema.sql": "-- dbmate's dump\n",
    }
    write_all(catalog_dir, files)
    catalog = load_catalog()
    assert catalog.flavors[str(catalog_dir)] == "dbmate"
    index = catalog.get("default", "20230102000000").steps[0]
    assert index.options == {"transaction": False, "backward_transaction": True}
    assert catalog.get("default", "20230103000000").steps[0].options["noop_down"]
    assert any(w.startswith("schema.sql: not a dbmate migration") for w in _warnings())
    assert _versions(catalog_dir)[-2:] == ["20230104000000", "20230105000000"]
    assert catalog.get("default", "20230104000000").name == "seed-more"
    assert cli("apply", "--yes").code == 0
    _reference(
        [
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));",
            f"CREATE INDEX {concurrently}users_name ON users (name);",
            "INSERT INTO users (id, name) VALUES (1, 'ada');",
            "INSERT INTO users (id, name) VALUES (2, 'bob');",
            "CREATE TABLE tags (id INTEGER PRIMARY KEY);",
        ]
    )
    assert _shape("default") == _shape("analytics")
    assert cli("rollback", "--to", "20230101000000", "--yes").code == 0


@pytest.mark.parametrize(
    "names",
    [
        ("010_create_logs.sql", "010_create_logs_again.sql"),
        ("1_a.up.sql", "001_b.up.sql"),
        ("V2__a.sql", "V2__b.sql"),
        # Flyway: "Found more than one migration with version 1" (1.0 is 1).
        ("V1__a.sql", "V1.0__b.sql"),
        ("V3_0_0__a.sql", "V3__b.sql"),
    ],
)
def test_two_files_of_one_version_name_both(catalog_dir: Path, cli, names: tuple[str, ...]) -> None:
    for name in names:
        body = (
            "-- +goose Up\nSELECT 1;\n"
            if name.endswith(".sql") and name[0].isdigit() and ".up." not in name
            else "SELECT 1;\n"
        )
        write(catalog_dir, name, body)
    result = cli("sync")
    assert result.code == 2
    assert all(name in result.err for name in names), result.err
    assert "cycle" not in result.err
    assert not Migration.objects.exists()


def test_the_same_version_in_two_formats_is_one_error_and_no_bogus_cycle(
    catalog_dir: Path, cli
) -> None:
    write(catalog_dir, "001_a.sql", "-- === UP MIGRATION ===\nSELECT 1;\n")
    write(catalog_dir, "002_b.sql", "-- === UP MIGRATION ===\nSELECT 1;\n")
    write(catalog_dir, "002_c.up.sql", "SELECT 2;\n")
    result = cli("sync")
    assert result.code == 2 and "002_b.sql" in result.err and "002_c.up.sql" in result.err
    assert "cycle" not in result.err


def test_unicode_names_are_allowed(catalog_dir: Path, cli) -> None:
    write(catalog_dir, "002_ユーザー.sql", "-- === UP MIGRATION ===\nSELECT 1;\n")
    result = cli("status", "--json")
    assert result.code == 0 and result.json()["databases"][0]["pending"] == ["002"]
    assert Status.PENDING == "pending"


@pytest.mark.parametrize(
    ("files", "named", "why"),
    [
        # dbmate refuses a migration without ``-- migrate:down`` (an empty one is a no-op).
        (
            {
                "20230101000000_a.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\n",
                "20230102000000_b.sql": "-- migrate:up\nSELECT 2;\n",
            },
            "20230102000000_b.sql",
            "migrate:down",
        ),
        # goose: "migration IDs must be greater than zero".
        (
            {
                "00000_init.sql": "-- +goose Up\nSELECT 1;\n",
                "00001_next.sql": "-- +goose Up\nSELECT 2;\n",
            },
            "00000_init.sql",
            "greater than zero",
        ),
    ],
)
def test_what_the_tool_refuses_is_refused(
    catalog_dir: Path, cli, files: dict[str, str], named: str, why: str
) -> None:
    write_all(catalog_dir, files)
    result = cli("sync")
    assert result.code == 2, result
    assert named in result.err and why in result.err, result.err
    assert not Migration.objects.exists()


def test_scripts_with_their_own_transactions(catalog_dir: Path, cli) -> None:
    """golang-migrate does not wrap a script on PostgreSQL, so scripts wrap themselves. One
    wrapped transaction runs in the step's own (its COMMIT would otherwise commit the step
    before its record, and SQLite refuses the BEGIN); a script of several transactions
    keeps them and runs outside the step's."""
    files = {
        "1_users.up.sql": (
            "BEGIN;\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n"
            "INSERT INTO users VALUES (1, 'ada');\nCOMMIT;\n"
        ),
        "1_users.down.sql": "BEGIN;\nDROP TABLE users;\nCOMMIT;\n",
        "2_tags.up.sql": (
            "BEGIN;\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\nCOMMIT;\n"
            "BEGIN TRANSACTION;\nINSERT INTO tags VALUES (1);\nEND;\n"
        ),
        "2_tags.down.sql": "DROP TABLE tags;\n",
    }
    write_all(catalog_dir, files)
    catalog = load_catalog()
    vendor = connections["default"].vendor
    users, tags = catalog.get("default", "1").steps[0], catalog.get("default", "2").steps[0]
    assert users.transactional and users.options.get("backward_transaction", True)
    statements = split_statements(vendor, users.forward)
    assert [s.line for s in statements] == [2, 3]  # as in the file
    assert not any(s.sql.upper() in ("BEGIN", "COMMIT") for s in statements)
    assert not split_statements(vendor, users.backward)[0].sql.upper().startswith("BEGIN")
    assert not tags.transactional and "BEGIN TRANSACTION" in tags.forward
    assert cli("apply", "--yes").code == 0
    _reference([files["1_users.up.sql"], files["2_tags.up.sql"]])
    assert _shape("default") == _shape("analytics")

    # A wrapped script that fails is undone whole, with its record.
    write(
        catalog_dir,
        "3_broken.up.sql",
        "BEGIN;\nCREATE TABLE half (id INTEGER);\nINSERT INTO nowhere VALUES (1);\nCOMMIT;\n",
    )
    assert cli("apply", "--yes").code == 1
    assert "half" not in dialect_for("default").table_names()
    assert not Migration.objects.get(version="3").applied
    (catalog_dir / "3_broken.up.sql").unlink()
    assert cli("rollback", "--steps", "2", "--yes").code == 0
    assert {"users", "tags"}.isdisjoint(dialect_for("default").table_names())


def test_a_scripts_own_transaction_that_fails_or_is_left_open(catalog_dir: Path, cli) -> None:
    """A script of its own transactions runs outside the step's: one that fails inside
    them, or that leaves one open (a BEGIN the reader cannot see as one), has that
    transaction rolled back, the step failed saying so, and the session usable again."""
    dialect = dialect_for("default")
    write_all(
        catalog_dir,
        {
            "1_two.up.sql": "BEGIN;\nCREATE TABLE first_half (id INTEGER);\nCOMMIT;\n"
            "BEGIN;\nCREATE TABLE second_half (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n"
            "COMMIT;\n",
            "1_two.down.sql": "DROP TABLE IF EXISTS second_half;\nDROP TABLE IF EXISTS first_half;\n",
        },
    )
    result = cli("apply", "--yes")
    assert result.code == 1, result
    assert "statement at line 6 failed" in result.err, result.err
    assert "the transaction the script began at line 4 was rolled back" in result.err
    assert not dialect.in_script_transaction()
    step_run = StepRun.objects.get(run__migration__version="1", run__direction="forward")
    assert "the transaction the script began at line 4 was rolled back" in step_run.error
    # Rolled back automatically by its down SQL: nothing of either transaction is left.
    assert {"first_half", "second_half"}.isdisjoint(dialect.table_names())

    write(catalog_dir, "1_two.up.sql", "CREATE TABLE first_half (id INTEGER);\n")  # mended
    write(
        catalog_dir,
        "2_open.sql",
        "-- Transaction: no\n-- === UP MIGRATION ===\nCREATE TABLE kept (id INTEGER);\n"
        "BEGIN /* not read as one */ TRANSACTION;\nCREATE TABLE lost (id INTEGER);\n"
        "-- === DOWN MIGRATION ===\nDROP TABLE IF EXISTS lost;\nDROP TABLE kept;\n",
    )
    result = cli("apply", "--yes", "--no-auto-rollback")
    assert result.code == 1, result
    assert "the transaction the script begins at line 4 is never ended" in result.err
    assert not dialect.in_script_transaction()
    tables = dialect.table_names()
    assert "kept" in tables and "lost" not in tables  # committed before the BEGIN; not after
    assert Migration.objects.get(version="1").applied  # the migration before it stays
    assert not Migration.objects.get(version="2").applied
    assert cli("rollback", "--steps", "1", "--yes").code == 0  # the session takes more
    assert "first_half" not in dialect.table_names()


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="search_path and roles: PostgreSQL's"
)
def test_a_script_that_moves_the_search_path(catalog_dir: Path, cli, request) -> None:
    """Scripts set ``search_path`` (a dump's ``set_config``, ``SET search_path TO app``):
    migrator's own writes after them still find its tables, and the next migration starts
    from the connection's own path, as Flyway restores a connection after each migration."""

    def drop_schema() -> None:  # whatever happens: other tests compare whole schemas
        with connections["default"].cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS app CASCADE")

    request.addfinalizer(drop_schema)
    write_all(
        catalog_dir,
        {
            "1_app.up.sql": "CREATE SCHEMA app;\nSET search_path TO app;\n"
            "CREATE TABLE t (id INTEGER);\n",
            "1_app.down.sql": "DROP SCHEMA app CASCADE;\n",
            "2_dump.up.sql": "SELECT pg_catalog.set_config('search_path', '', false);\n"
            "CREATE TABLE public.u (id INTEGER);\n",
            "2_dump.down.sql": "DROP TABLE public.u;\n",
            "3_plain.up.sql": "CREATE TABLE v (id INTEGER);\n",
            "3_plain.down.sql": "DROP TABLE v;\n",
        },
    )
    # Run statement by statement (autocommit, a checkpoint after each): the script's path
    # holds for its next statement, migrator's for the checkpoint.
    write(
        catalog_dir,
        "4_index.sql",
        "-- Transaction: no\n-- === UP MIGRATION ===\nSET search_path TO app;\n"
        "CREATE INDEX CONCURRENTLY t_id ON t (id);\n"
        "-- === DOWN MIGRATION ===\nSET search_path TO app;\nDROP INDEX CONCURRENTLY t_id;\n",
    )
    # A validation sees what the script's statements saw (run statement by statement).
    write(
        catalog_dir,
        "5_checked.py",
        "from migrator import dsl\n\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.RunSQL('SET search_path TO app; CREATE TABLE w (id INTEGER)',\n"
        "                        backward='SET search_path TO app; DROP TABLE w',\n"
        "                        transaction=False, validation='SELECT id FROM w')]\n",
    )
    # A setting left for the session (1 ms per statement) ends with its migration.
    write(catalog_dir, "6_timeout.up.sql", "SET statement_timeout = 1;\nSELECT 1;\n")
    write(catalog_dir, "6_timeout.down.sql", "SELECT 1;\n")
    write(catalog_dir, "7_slow.up.sql", "SELECT pg_sleep(0.05);\n")
    write(catalog_dir, "7_slow.down.sql", "SELECT 1;\n")
    assert cli("apply", "--yes").code == 0
    where = dict(
        dialect_for("default").rows(
            "SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relname IN ('t', 'u', 'v', 't_id', 'w')"
        )
    )
    assert where == {"t": "app", "u": "public", "v": "public", "t_id": "app", "w": "app"}
    assert Migration.objects.filter(applied=True).count() == 7
    assert cli("rollback", "--steps", "7", "--yes").code == 0
    assert not Migration.objects.filter(applied=True).exists()
    assert dialect_for("default").scalar("SELECT to_regnamespace('app')") is None


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="session authorization: PostgreSQL's"
)
def test_a_script_that_changes_who_writes_and_how(catalog_dir: Path, cli, request) -> None:
    """A dump made with ``--use-set-session-authorization`` creates its objects as their
    owner; a script may make later transactions read-only. Migrator's own writes after
    such a script still run as the connection's user, in transactions that can write, and
    the next migration starts from the connection's own session."""
    role = "migrator_test_owner"

    def drop_role() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("RESET SESSION AUTHORIZATION")
            cursor.execute(
                f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
                f"THEN DROP OWNED BY {role}; DROP ROLE {role}; END IF; END $$"
            )

    drop_role()
    with connections["default"].cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
    request.addfinalizer(drop_role)
    write_all(
        catalog_dir,
        {
            "1_owned.up.sql": f"SET SESSION AUTHORIZATION {role};\nCREATE TABLE owned (id INT);\n",
            "1_owned.down.sql": "DROP TABLE owned;\n",
            "2_read_only.up.sql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n",
            "2_read_only.down.sql": "SELECT 1;\n",
            "3_plain.up.sql": "CREATE TABLE plain (id INT);\n",
            "3_plain.down.sql": "DROP TABLE plain;\n",
        },
    )
    result = cli("apply", "--yes")
    assert result.code == 0, result
    owners = dict(
        dialect_for("default").rows(
            "SELECT tablename, tableowner FROM pg_tables WHERE tablename IN ('owned', 'plain')"
        )
    )
    user = dialect_for("default").scalar("SELECT session_user")
    assert owners == {"owned": role, "plain": user}
    assert Migration.objects.filter(applied=True).count() == 3
    assert cli("rollback", "--steps", "3", "--yes").code == 0
    assert not Migration.objects.filter(applied=True).exists()


def test_flyway_placeholders(catalog_dir: Path, cli, settings) -> None:
    """``${...}`` is replaced as Flyway replaces it: built-ins and the folder's own; one
    without a value is refused naming its line; replacement can be turned off."""
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "placeholders": {"label_width": "40"}}],
    }
    write(
        catalog_dir,
        "V1__users.sql",
        "-- by ${flyway:filename}\n"
        "CREATE TABLE ${flyway:defaultSchema}.users (id INTEGER, label VARCHAR(${LABEL_WIDTH}));\n",
    )
    write(catalog_dir, "U1__users.sql", "DROP TABLE ${flyway:defaultSchema}.users;\n")
    forward = load_catalog().get("default", "1").steps[0].forward
    schema = "public" if connections["default"].vendor == "postgresql" else "main"
    assert forward == (
        f"-- by V1__users.sql\nCREATE TABLE {schema}.users (id INTEGER, label VARCHAR(40));\n"
    )
    assert cli("apply", "--yes").code == 0
    assert "users" in dialect_for("default").table_names()
    assert cli("rollback", "--steps", "1", "--yes").code == 0
    assert "users" not in dialect_for("default").table_names()

    write(catalog_dir, "V2__tags.sql", "-- tags\nCREATE TABLE tags (name VARCHAR(${width}));\n")
    result = cli("sync")
    assert result.code == 2, result
    assert "V2__tags.sql:2" in result.err and "${width}" in result.err, result.err

    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "placeholder_replacement": False}],
    }
    assert "${width}" in load_catalog().get("default", "2").steps[0].forward


def test_a_scripts_session_setting_ends_with_its_migration(catalog_dir: Path, cli) -> None:
    """What a script sets for its session (PostgreSQL's ``SET``, SQLite's ``PRAGMA``) does
    not stay on the connection for the next migration and migrator's own statements."""
    pg = connections["default"].vendor == "postgresql"
    setting = "SET lock_timeout = 1234" if pg else "PRAGMA cache_size = 17"
    value = "current_setting('lock_timeout')" if pg else "(SELECT * FROM pragma_cache_size())"
    before = dialect_for("default").scalar(f"SELECT {value}")
    write(catalog_dir, "1_set.up.sql", f"{setting};\nCREATE TABLE a (id INTEGER);\n")
    write(catalog_dir, "1_set.down.sql", "DROP TABLE a;\n")
    write(
        catalog_dir,
        "2_seen.up.sql",
        f"CREATE TABLE seen (v VARCHAR(20));\nINSERT INTO seen SELECT {value};\n",
    )
    write(catalog_dir, "2_seen.down.sql", "DROP TABLE seen;\n")
    assert cli("apply", "--yes").code == 0
    assert dialect_for("default").scalar("SELECT v FROM seen") == str(before)


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite",
    reason="SQLite's pragmas (PostgreSQL's SET: test_a_scripts_session_setting_ends_...)",
)
def test_a_pragma_that_cannot_be_read_back_ends_with_its_migration(catalog_dir: Path, cli) -> None:
    """``PRAGMA case_sensitive_like`` cannot be read, only set: the script's own statements
    see its value, the next migration the connection's default again."""
    like = "INSERT INTO {} SELECT 'a' LIKE 'A';\n"
    write_all(
        catalog_dir,
        {
            "1_like.up.sql": "PRAGMA case_sensitive_like = ON;\n"
            + "CREATE TABLE mine (v INTEGER);\n"
            + like.format("mine"),
            "1_like.down.sql": "DROP TABLE mine;\n",
            "2_next.up.sql": "CREATE TABLE next (v INTEGER);\n" + like.format("next"),
            "2_next.down.sql": "DROP TABLE next;\n",
        },
    )
    assert cli("apply", "--yes").code == 0
    dialect = dialect_for("default")
    assert dialect.scalar("SELECT v FROM mine") == 0
    assert dialect.scalar("SELECT v FROM next") == 1
    assert dialect.scalar("SELECT 'a' LIKE 'A'") == 1


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite",
    reason="SQLite's pragmas (PostgreSQL's SET is undone with its failed transaction)",
)
@pytest.mark.parametrize(
    ("script", "validation"),
    [
        ("PRAGMA query_only = ON; SELECT * FROM no_such_table", "SELECT 0"),
        ("PRAGMA query_only = ON; SELECT 1", "SELECT 0"),
    ],
    ids=["statement", "validation"],
)
def test_a_pragma_set_by_a_failing_migration_ends_with_it(
    catalog_dir: Path, cli, script: str, validation: str
) -> None:
    """A rollback leaves SQLite's pragmas as the script set them: ``query_only = ON``
    before a failing statement (or check) would refuse the failure's record and the
    automatic rollback. The failure is recorded and rolled back; the session is
    migrator's again."""
    write_all(
        catalog_dir,
        {
            "1_first.up.sql": "CREATE TABLE first_t (v INTEGER);\n",
            "1_first.down.sql": "DROP TABLE first_t;\n",
            "2_readonly.py": "from migrator import dsl\n\n\nclass Migration(dsl.Migration):\n"
            f"    steps = [dsl.RunSQL({script!r}, validation={validation!r})]\n",
        },
    )
    result = cli("apply", "--yes")
    assert result.code == 1, result
    assert "Traceback" not in result.err
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Status.ROLLED_BACK, deployment.error
    assert deployment.error.startswith("2 step 1"), deployment.error
    assert dialect_for("default").scalar("PRAGMA query_only") == 0
    assert not Migration.objects.get(version="1").applied
    assert cli("status").code == 0


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="prepared statements: PostgreSQL's"
)
def test_migrator_statements_stay_prepared_across_ddl_and_a_script_that_drops_them(
    catalog_dir: Path,
) -> None:
    """psycopg deallocates every prepared statement after an ALTER or DROP when it is
    watching; migrator's bookkeeping statements are prepared once per connection and
    survive the migrations' DDL (PostgreSQL re-plans them), and a script that deallocates
    them itself is seen, so the next write prepares them again instead of failing."""
    files = {
        "1_t.up.sql": "CREATE TABLE prep_t (id INTEGER);\n",
        "2_alter.up.sql": "ALTER TABLE prep_t ADD COLUMN n INTEGER;\n",
        "3_drop.up.sql": "CREATE INDEX prep_n ON prep_t (n);\nDROP INDEX prep_n;\n",
        # What the engine's connection has prepared, seen from the next migration.
        "4_seen.up.sql": "CREATE TABLE prep_seen AS SELECT generic_plans + custom_plans AS runs "
        "FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO \"migrator_steprun\"%';\n",
        "5_deallocate.up.sql": "DEALLOCATE ALL;\nALTER TABLE prep_t DROP COLUMN n;\n",
        "6_after.up.sql": "ALTER TABLE prep_t ADD COLUMN m INTEGER;\n",
    }
    for name, sql in files.items():
        write(catalog_dir, name, sql)
        write(catalog_dir, name.replace(".up.", ".down."), "SELECT 1;\n")
    try:
        deployment = services.apply("default", actor="t", backend="inline")
        assert deployment.status == "succeeded", deployment.error
        assert Migration.objects.filter(applied=True).count() == len(files)
        # The statement writing each step run: prepared once, run for the first three.
        seen = dialect_for("default").rows("SELECT runs FROM prep_seen")
        assert seen == [(3,)], seen
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS prep_t, prep_seen")


def test_a_flyway_file_renamed_to_the_same_version_still_rolls_back(catalog_dir: Path) -> None:
    """``V2__`` renamed ``V2.0__`` is the same version (Flyway's comparison): its applied
    row is found by version, before and after the next sync writes the new spelling."""
    write(catalog_dir, "V1__one.sql", "CREATE TABLE renamed_one (id INTEGER);\n")
    write(catalog_dir, "V2__two.sql", "CREATE TABLE renamed_two (id INTEGER);\n")
    write(catalog_dir, "U2__two.sql", "DROP TABLE renamed_two;\n")
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"
    for name in ("V2__two.sql", "U2__two.sql"):
        (catalog_dir / name).rename(catalog_dir / name.replace("2__", "2.0__"))
    plan = services.plan("default", direction="backward", count=1)
    assert [run.version for run in plan.runs] == ["2.0"]
    back = services.rollback("default", actor="t", count=1, backend="inline")
    assert back.status == "succeeded", back.error
    assert "renamed_two" not in connections["default"].introspection.table_names()
    assert list(Migration.objects.filter(applied=True).values_list("version", flat=True)) == ["1"]


def test_a_python_migrations_runsql_with_its_own_transactions(catalog_dir: Path, cli) -> None:
    """A RunSQL's ``BEGIN``/``COMMIT`` is read as an SQL file's: one wrapped transaction
    runs in the step's (its COMMIT would otherwise commit the step before its record, and
    SQLite refuses the BEGIN); several run outside it; ``transaction=True`` with a script
    that commits on its own is refused naming the file."""
    write(
        catalog_dir,
        "001_wrapped.py",
        "from migrator import dsl\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [\n"
        "        dsl.RunSQL(\n"
        "            'BEGIN;\\nCREATE TABLE rs_a (id INTEGER);\\nCOMMIT;\\n',\n"
        "            backward='BEGIN;\\nDROP TABLE rs_a;\\nCOMMIT;\\n',\n"
        "        ),\n"
        "        dsl.RunSQL(\n"
        "            'BEGIN;\\nCREATE TABLE rs_b (id INTEGER);\\nCOMMIT;\\n"
        "BEGIN TRANSACTION;\\nINSERT INTO rs_b VALUES (1);\\nEND;\\n',\n"
        "            backward='DROP TABLE rs_b;',\n"
        "        ),\n"
        "    ]\n",
    )
    wrapped, several = load_catalog().get("default", "001").steps
    assert wrapped.transactional and "BEGIN" not in wrapped.forward.upper()
    assert "BEGIN" not in wrapped.backward.upper()
    assert not several.transactional and several.options["backward_transaction"] is True
    try:
        assert cli("apply", "--yes").code == 0
        assert dialect_for("default").scalar("SELECT count(*) FROM rs_b") == 1
        assert cli("rollback", "--steps", "1", "--yes").code == 0
        assert {"rs_a", "rs_b"}.isdisjoint(dialect_for("default").table_names())
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rs_a")
            cursor.execute("DROP TABLE IF EXISTS rs_b")

    write(
        catalog_dir,
        "002_insists.py",
        "from migrator import dsl\n\n"
        "class Migration(dsl.Migration):\n"
        "    steps = [dsl.RunSQL('SELECT 1;\\nCOMMIT;\\nSELECT 2;', transaction=True)]\n",
    )
    result = cli("status")
    assert result.code == 2
    assert "002_insists.py" in result.err and "drop transaction=True" in result.err


_DUMP = """--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.countries (
    code character(2) NOT NULL,
    name text,
    note text
);

--
-- Data for Name: countries; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.countries (code, name, note) FROM stdin;
fr\tFrance\t\\N
de\tGermany\ttab\\there; and 'quotes' -- no comment
\\.


ALTER TABLE ONLY public.countries
    ADD CONSTRAINT countries_pkey PRIMARY KEY (code);
"""


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="COPY ... FROM STDIN: PostgreSQL's"
)
def test_a_flyway_dump_with_copy_from_stdin(catalog_dir: Path, cli) -> None:
    """A pg_dump as a Flyway migration (Flyway runs its COPY ... FROM STDIN blocks, as psql
    does): the rows arrive exactly, in the migration's transaction; a COPY whose data
    the server refuses fails its migration naming the file and line, nothing of it kept."""
    write_all(
        catalog_dir,
        {
            "V1__dump.sql": _DUMP,
            "U1__dump.sql": "DROP TABLE countries;\n",
            "V2__more.sql": "COPY countries (code, name) FROM STDIN WITH (FORMAT csv);\n"
            "it,\"Italy, the Republic\"\n\\.\nUPDATE countries SET note = 'csv' WHERE code = 'it';\n",
            "U2__more.sql": "DELETE FROM countries WHERE code = 'it';\n",
        },
    )
    assert cli("apply", "--yes").code == 0
    rows = dialect_for("default").rows("SELECT code, name, note FROM countries ORDER BY code")
    assert rows == [
        ("de", "Germany", "tab\there; and 'quotes' -- no comment"),
        ("fr", "France", None),
        ("it", "Italy, the Republic", "csv"),
    ]
    # Rows each step changed: the COPYs' rows are counted (V1: its 2 rows and the
    # set_config SELECT's 1; V2: 1 row copied, 1 updated).
    affected = dict(
        StepRun.objects.filter(run__direction="forward").values_list(
            "run__migration__version", "rows_affected"
        )
    )
    assert affected == {"1": 3, "2": 2}

    write(
        catalog_dir,
        "V3__bad.sql",
        "INSERT INTO countries VALUES ('es', 'Spain', NULL);\n"
        "COPY countries (code, name)\n  FROM stdin;\nbe\tBelgium\nnl\tNetherlands\textra column\n"
        "\\.\n",
    )
    result = cli("apply", "--yes")
    assert result.code == 1
    assert "3 step 1 (bad): statement at line 2 failed: DataError: extra data" in result.err
    assert "COPY countries, line 2 (line 5 of the script)" in result.err
    assert dialect_for("default").scalar("SELECT count(*) FROM countries") == 3  # no 'es'
    assert Migration.objects.get(version="3").applied is False

    (catalog_dir / "V3__bad.sql").unlink()
    assert cli("rollback", "--steps", "2", "--yes").code == 0
    assert "countries" not in dialect_for("default").table_names()


def test_flyway_mixed_scripts(catalog_dir: Path, cli, settings) -> None:
    """A Flyway script mixing a statement that cannot run in a transaction with others is
    refused, as Flyway refuses it, naming the file and the lines; with the folder's
    ``mixed`` (Flyway's setting) it runs outside a transaction, statement by statement."""
    write_all(
        catalog_dir,
        {
            "V1__t.sql": "CREATE TABLE t (id INTEGER);\n",
            "U1__t.sql": "DROP TABLE t;\n",
            "V2__fill.sql": "INSERT INTO t VALUES (1);\n-- reclaim the space\nVACUUM;\n",
            "U2__fill.sql": "DELETE FROM t;\n",
        },
    )
    result = cli("sync")
    assert result.code == 2, result
    assert "V2__fill.sql" in result.err
    assert "cannot run in a transaction (line 3) with ones that can (line 1)" in result.err
    assert '"mixed": True' in result.err
    assert not Migration.objects.exists()

    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "format": "flyway", "mixed": True}],
    }
    assert cli("apply", "--yes").code == 0
    assert dialect_for("default").scalar("SELECT COUNT(*) FROM t") == 1
    assert Migration.objects.get(version="2").transactional is False
    assert cli("rollback", "--steps", "2", "--yes").code == 0
    assert "t" not in dialect_for("default").table_names()

    settings.MIGRATOR = {**settings.MIGRATOR, "DIRS": [{"path": str(catalog_dir), "mixed": "yes"}]}
    result = cli("sync")
    assert result.code == 2 and '"mixed" must be True or False' in result.err, result


def _atlas_sum(folder: Path) -> None:
    """Write ``atlas.sum`` as ``atlas migrate hash`` does (see test_atlas_sum_is_atlas_s)."""
    from migrator.catalog.formats.atlas import SUM_FILE, _hashes, _total
    from migrator.catalog.formats.base import ReadContext

    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".sql" and p.is_file())
    entries = _hashes(folder, names, ReadContext())
    lines = "".join(f"{name} h1:{digest}\n" for name, digest in entries)
    (folder / SUM_FILE).write_text(f"h1:{_total(entries)}\n{lines}")


def test_atlas_sum_is_atlas_s(tmp_path: Path) -> None:
    """The sum of three files, one with ``atlas:sum ignore``: the value Atlas's algorithm
    gives (a running SHA-256 over names and contents; checked against atlas.sum files
    written by Atlas itself)."""
    write_all(
        tmp_path,
        {
            "1_a.sql": "CREATE TABLE a (id INTEGER);\n",
            "2_b.sql": "-- atlas:sum ignore\nSELECT 1;\n",
            "3_c.sql": "DROP TABLE a;\n",
        },
    )
    _atlas_sum(tmp_path)
    assert (tmp_path / "atlas.sum").read_text() == (
        "h1:oxFBeukbh4rW+Mw13U4SymAxP9gWtd4FyVM9NfQtgOE=\n"
        "1_a.sql h1:xHW+xU2gYADhYpBJ5jtyJMNIZ+fk42w/S3fGQvRnQb0=\n"
        "3_c.sql h1:wPksMCN0UAFOdIwvfQcQnUyLdf/aywbicyh1seu2SJU=\n"
    )


def test_an_atlas_project(catalog_dir: Path, cli, settings) -> None:
    """An Atlas migration directory: plain SQL files ordered by version, forward only, with
    their directives (txmode, delimiter, checkpoint); ``atlas.sum`` must match, as Atlas
    refuses to run otherwise; what Atlas ignores is a warning."""
    write_all(
        catalog_dir,
        {
            "20240101000001_users.sql": "-- atlas:txmode none\n\nCREATE TABLE users (id INTEGER);\n",
            "20240101000002_name.sql": "-- add a name\nALTER TABLE users ADD COLUMN name VARCHAR(40);\n",
            # Statements end at a blank line, not at ';' (not inside a string either).
            "20240101000003_notes.sql": "-- atlas:delimiter \\n\\n\n"
            "CREATE TABLE notes (id INTEGER, body VARCHAR(40))\n\n"
            "INSERT INTO notes VALUES (1, 'one;\n\ntwo')\n",
            "20240101000004_checkpoint.sql": "-- atlas:checkpoint\n\n"
            "CREATE TABLE users (id INTEGER, name VARCHAR(40));\n",
            "README.md": "how to run atlas\n",
            "notes.txt": "not a migration\n",
            "old/20230101000000_first.sql": "SELECT 1;\n",
        },
    )
    _atlas_sum(catalog_dir)
    catalog = load_catalog()
    assert catalog.flavors[str(catalog_dir)] == "atlas"
    assert _versions(catalog_dir) == ["20240101000001", "20240101000002", "20240101000003"]
    warned = _warnings()
    assert any(w.startswith("20240101000004_checkpoint.sql: an Atlas checkpoint") for w in warned)
    assert (
        "notes.txt: not an Atlas migration: Atlas ignores this file, and so does migrator" in warned
    )
    assert any(w.startswith("old: not an Atlas migration") for w in warned)

    assert cli("apply", "--yes").code == 0
    dialect = dialect_for("default")
    assert dialect.rows("SELECT id, body FROM notes") == [(1, "one;\n\ntwo")]
    assert Migration.objects.get(version="20240101000001").transactional is False
    assert Migration.objects.get(version="20240101000002").transactional is True

    # A file changed after it was hashed: Atlas refuses the folder, and so does migrator.
    write(catalog_dir, "20240101000002_name.sql", "ALTER TABLE users ADD COLUMN nick VARCHAR(9);\n")
    result = cli("sync")
    assert result.code == 2, result
    assert "20240101000002_name.sql: checksum mismatch: atlas.sum does not match" in result.err
    _atlas_sum(catalog_dir)
    write(catalog_dir, "20240101000005_later.sql", "SELECT 1;\n")
    result = cli("sync")
    assert result.code == 2 and "20240101000005_later.sql: checksum mismatch" in result.err
    _atlas_sum(catalog_dir)
    summed = (catalog_dir / "atlas.sum").read_text()
    (catalog_dir / "atlas.sum").write_text(summed.replace("h1:", "h1:x", 1))
    result = cli("sync")
    assert result.code == 2 and "its first line is not the sum of its other lines" in result.err
    _atlas_sum(catalog_dir)
    write(catalog_dir, "20240101000006_tx.sql", "-- atlas:txmode all\n\nSELECT 1;\n")
    _atlas_sum(catalog_dir)
    result = cli("sync")
    assert result.code == 2 and "atlas:txmode 'all': Atlas takes none or file" in result.err
    (catalog_dir / "20240101000006_tx.sql").unlink()
    # Atlas would run a file without a version first: refused, not passed over.
    write(catalog_dir, "_seed.sql", "SELECT 1;\n")
    _atlas_sum(catalog_dir)
    result = cli("sync")
    assert result.code == 2 and "_seed.sql: no version before the first '_'" in result.err

    (catalog_dir / "_seed.sql").unlink()
    (catalog_dir / "atlas.sum").unlink()
    settings.MIGRATOR = {
        **settings.MIGRATOR,
        "DIRS": [{"path": str(catalog_dir), "format": "atlas"}],
    }
    result = cli("sync")
    assert result.code == 2 and "no atlas.sum: Atlas refuses such a folder" in result.err
