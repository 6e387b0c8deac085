"""Compatibility levels: change by change on hand-made schemas, then the matrix and diff of
a target's real recorded versions on both databases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from migrator import services
from migrator.schema.compat import compare, weakest, widens

from .conftest import marker_sql, write
from .console.conftest import make_user  # noqa: F401 - fixture


def _column(type_: str, nullable: bool = True, default: str | None = None) -> dict[str, Any]:
    return {"type": type_, "nullable": nullable, "default": default}


BASE: dict[str, Any] = {
    "tables": {
        "items": {
            "columns": {"id": _column("bigint", False), "name": _column("varchar(20)")},
            "primary_key": ["id"],
            "indexes": {},
            "constraints": {},
        }
    },
    "enums": {"mood": ["happy", "sad"]},
}


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["tables"]["items"]


CASES = [
    ("nothing", lambda s: None, "full"),
    (
        "nullable column added",
        lambda s: _items(s)["columns"].update(note=_column("text")),
        "backward",
    ),
    (
        "NOT NULL column without default",
        lambda s: _items(s)["columns"].update(qty=_column("integer", False)),
        "none",
    ),
    ("column removed", lambda s: _items(s)["columns"].pop("name"), "forward"),
    ("table added", lambda s: s["tables"].update(other=copy.deepcopy(_items(BASE))), "backward"),
    ("table removed", lambda s: s["tables"].pop("items"), "forward"),
    ("type widened", lambda s: _items(s)["columns"]["name"].update(type="varchar(40)"), "backward"),
    ("type narrowed", lambda s: _items(s)["columns"]["name"].update(type="varchar(10)"), "forward"),
    ("type replaced", lambda s: _items(s)["columns"]["name"].update(type="integer"), "none"),
    ("became NOT NULL", lambda s: _items(s)["columns"]["name"].update(nullable=False), "forward"),
    ("plain index added", lambda s: _items(s)["indexes"].update(ix={"unique": False}), "full"),
    ("unique index added", lambda s: _items(s)["indexes"].update(ux={"unique": True}), "forward"),
    (
        "check added",
        lambda s: _items(s)["constraints"].update(pos={"type": "check", "columns": ["id"]}),
        "forward",
    ),
    ("default changed", lambda s: _items(s)["columns"]["name"].update(default="'x'"), "full"),
    ("enum label added", lambda s: s["enums"]["mood"].append("calm"), "backward"),
    ("enum label removed", lambda s: s["enums"]["mood"].remove("sad"), "forward"),
]


@pytest.mark.parametrize(("what", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_level_of_one_change(what: str, edit: Any, expected: str) -> None:
    assert compare(BASE, _changed(edit))["level"] == expected


def test_removing_a_constraint_is_the_mirror_of_adding_it() -> None:
    with_check = _changed(
        lambda s: _items(s)["constraints"].update(pos={"type": "check", "columns": ["id"]})
    )
    assert compare(with_check, BASE)["level"] == "backward"


def test_widening_rules() -> None:
    assert widens("integer", "bigint") and widens("varchar(20)", "text")
    assert widens("numeric(10,2)", "numeric(12,2)") and not widens("numeric(10,2)", "numeric(12,3)")
    assert not widens("bigint", "integer") and not widens("text", "varchar(20)")


def test_transitive_level_is_the_weakest() -> None:
    assert weakest(["full", "backward"]) == "backward"
    assert weakest(["backward", "forward"]) == "none"
    assert weakest(["full", "full"]) == "full"


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_matrix_and_diff_of_recorded_versions(
    cli: Any,
    catalog_dir: Path,
    client: Any,
    make_user: Any,  # noqa: F811 - the fixture imported above
) -> None:
    write(
        catalog_dir,
        "001_items.sql",
        marker_sql(
            "CREATE TABLE cmp_items (id BIGINT PRIMARY KEY, name VARCHAR(20));",
            "DROP TABLE cmp_items;",
        ),
    )
    write(catalog_dir, "002_note.sql", marker_sql("ALTER TABLE cmp_items ADD COLUMN note TEXT;"))
    write(
        catalog_dir,
        "003_unique.sql",
        marker_sql(
            "CREATE UNIQUE INDEX cmp_items_name ON cmp_items (name);", "DROP INDEX cmp_items_name;"
        ),
    )
    from migrator.models import SchemaVersion

    nothing_yet = cli("compat")  # before any deployment: said, not an empty output
    assert nothing_yet.code == 0 and "no two schema versions to compare yet" in nothing_yet.out
    for goal in ("001", "002", "003"):
        deployment = services.apply("default", actor="t", to=goal, backend="inline")
        assert deployment.status == "succeeded"
        assert SchemaVersion.objects.get(database="default", active=True).version == goal
    data = json.loads(cli("compat", "--json").out)
    assert [v["version"] for v in data["versions"]] == ["001", "002", "003"]
    pairs = {(p["from"], p["to"]): p for p in data["pairs"]}
    assert pairs["001", "002"]["level"] == "backward"
    assert pairs["002", "003"]["level"] == "forward"
    assert pairs["001", "003"]["level"] == "none" and pairs["001", "003"]["transitive"] == "none"
    assert pairs["001", "003"]["hops"] == 2 and pairs["001", "002"]["migration"] == "schema"

    diff = json.loads(cli("diff", "001", "003", "--json").out)
    kinds = {c["change"]: (c["backward"], c["forward"]) for c in diff["changes"]}
    assert kinds["column_added"] == (True, False) and kinds["index_added"] == (False, True)
    text = cli("diff", "001", "002").out
    assert text.startswith("001 → 002 on default: backward") and "✗forward" in text

    csv = cli("compat", "--csv").out.splitlines()
    assert csv[0] == "from \\ to,001,002,003" and csv[1] == "001,,backward,none"
    assert cli("diff", "001", "999").code == 2

    # The console: the matrix graded by level, its CSV, and the level on a comparison.
    from django.urls import reverse

    client.force_login(make_user("viewer"))
    url = reverse("admin:migrator_console_matrix", args=["default"])
    html = client.get(url).content.decode()
    assert 'class="mg-level mg-level-backward"' in html and "mg-level-none" in html
    assert client.get(url + "?format=csv").content.decode().splitlines()[1] == "001,,backward,none"
    first, third = (SchemaVersion.objects.get(version=v).pk for v in ("001", "003"))
    compared = client.get(reverse("admin:migrator_console_compare") + f"?a={first}&b={third}")
    assert (
        'Compatibility: <span class="mg-level mg-level-none">none</span>'
        in compared.content.decode()
    )


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_a_deployment_run_as_one_transaction_records_the_version_reached(
    catalog_dir: Path,
) -> None:
    from django.db import connection

    from migrator.models import SchemaVersion

    write(
        catalog_dir, "001_a.sql", marker_sql("CREATE TABLE cmp_a (id BIGINT);", "DROP TABLE cmp_a;")
    )
    write(
        catalog_dir,
        "002_b.sql",
        marker_sql(
            "ALTER TABLE cmp_a ADD COLUMN note TEXT;", "ALTER TABLE cmp_a DROP COLUMN note;"
        ),
    )
    try:
        deployment = services.apply("default", actor="t", backend="inline", atomic=True)
        assert deployment.status == "succeeded" and deployment.options["atomic"]
        version = SchemaVersion.objects.get(database="default", active=True)
        assert version.version == "002" and "note" in version.schema["tables"]["cmp_a"]["columns"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS cmp_a")


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_the_demos_matrix_and_path_agree_with_the_seeds_table(
    cli: Any,
    client: Any,
    make_user: Any,  # noqa: F811 - the fixture imported above
) -> None:
    """The seed's "Supported Upgrade Paths": 1.0.x→1.1.x full, 1.1.x→1.2.x full (its
    configuration migration is a data migration here), 1.2.x→1.3.x backward compatible,
    and the longer upgrades multi-step: here on the demo's own catalog and data."""
    import io

    from django.core.management import call_command

    call_command("demo_data", "--tenants", "40", stdout=io.StringIO())
    assert services.apply("default", actor="t", backend="inline").status == "succeeded"

    data = json.loads(cli("compat", "--by-release", "--json").out)
    assert data["by"] == "release"
    assert [v["version"] for v in data["versions"]] == ["1.0", "1.1", "1.2", "1.3"]
    assert data["versions"][0]["schema_version"] == "1.0.1", "a release is its last version"
    pairs = {(p["from"], p["to"]): p for p in data["pairs"]}
    assert pairs["1.0", "1.1"]["level"] == "full"
    assert pairs["1.1", "1.2"]["level"] == "full" and pairs["1.1", "1.2"]["migration"] == "data"
    assert pairs["1.2", "1.3"]["level"] == "backward"
    assert any("sample_tenant_tier" in change for change in pairs["1.2", "1.3"]["breaking"])
    for longer in (("1.0", "1.2"), ("1.0", "1.3")):
        assert pairs[longer]["hops"] > 1, "a multi-step upgrade"
    assert pairs["1.0", "1.3"]["transitive"] == "backward"
    assert pairs["1.0", "1.2"]["transitive"] == "full"
    csv = cli("compat", "--by-release", "--csv").out.splitlines()
    assert csv[0] == "from \\ to,1.0,1.1,1.2,1.3" and csv[1] == "1.0,,full,full,backward"

    # Back to release 1.0, the way up again is a path through every release.
    back = services.rollback("default", actor="t", to="1.0.1", backend="inline")
    assert back.status == "succeeded"
    try:
        _check_the_path_up(cli)
    finally:  # the demo's own tables go (Django's flush cannot truncate around them)
        down = services.rollback("default", actor="t", count=2, backend="inline")
        assert down.status == "succeeded"

    from django.urls import reverse

    client.force_login(make_user("viewer"))
    url = reverse("admin:migrator_console_matrix", args=["default"])
    html = client.get(url + "?by=release").content.decode()
    assert "<th>1.2</th>" in html and "By version" in html


def _check_the_path_up(cli: Any) -> None:
    path = json.loads(cli("path", "--json").out)
    assert path["from"] == "1.0.1" and path["direction"] == "up"
    assert [hop["release"] for hop in path["hops"]] == [
        "1.1",
        "1.2",
        "1.2",
        "1.3",
        "1.3",
        "1.3",
        "1.3",
    ]
    assert [hop["level"] for hop in path["hops"][:3]] == ["full", "full", "full"]
    assert path["hops"][3]["level"] == "backward" and path["exact"] is True


@pytest.mark.django_db(transaction=True, databases=["default", "analytics"])
def test_a_big_deployment_still_records_the_end_of_each_release(
    catalog_dir: Path, settings: Any
) -> None:
    from django.db import connection

    from migrator.models import SchemaVersion

    settings.MIGRATOR = {**settings.MIGRATOR, "SCHEMA_CAPTURE_MAX_RUNS": 2}
    releases = {"001": "1.0", "002": "1.0", "003": "1.1", "004": "1.1", "005": "1.2"}
    for version, release in releases.items():
        write(
            catalog_dir,
            f"{version}_t.sql",
            f"-- Release: {release}\n"
            + marker_sql(f"CREATE TABLE big_{version} (id INTEGER);", f"DROP TABLE big_{version};"),
        )
    try:
        assert services.apply("default", actor="t", backend="inline").status == "succeeded"
        recorded = set(SchemaVersion.objects.values_list("version", flat=True))
        # Five runs are over the limit: not after each, but after the last of each release.
        assert recorded == {"002", "004", "005"}
        tables = SchemaVersion.objects.get(version="004").schema["tables"]
        assert "big_004" in tables and "big_005" not in tables
        data = services.compat.matrix("default", by_release=True)
        assert [v["version"] for v in data["versions"]] == ["1.0", "1.1", "1.2"]
    finally:
        with connection.cursor() as cursor:
            for version in releases:
                cursor.execute(f"DROP TABLE IF EXISTS big_{version}")
