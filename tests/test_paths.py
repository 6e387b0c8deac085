"""``migrator path``: the hops from where a target is to a version, the stops on the way,
estimates from the target's own history, and whether the way down is exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrator import services

from .conftest import marker_sql, write
from .console.conftest import make_user  # noqa: F401 - fixture
from .engine.conftest import restore_target_schema  # noqa: F401 - autouse fixture
from .engine.helpers import items_migration, transform_migration

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "analytics"])


@pytest.fixture
def catalog(catalog_dir: Path) -> Path:
    write(catalog_dir, "001_items.sql", items_migration())
    write(catalog_dir, "002_bump.py", transform_migration(batch_size=500))
    write(
        catalog_dir,
        "003_label.sql",
        "-- Stop: true\n"
        + marker_sql(
            "ALTER TABLE items ADD COLUMN label TEXT;", "ALTER TABLE items DROP COLUMN label;"
        ),
    )
    # A nullable column (old applications survive) and a unique index (the old schema
    # does not refuse what new ones write): compatible in neither direction.
    write(
        catalog_dir,
        "004_both.sql",
        marker_sql(
            "ALTER TABLE items ADD COLUMN extra TEXT;\nCREATE UNIQUE INDEX items_name_u ON items (name);",
            "DROP INDEX items_name_u;\nALTER TABLE items DROP COLUMN extra;",
        ),
    )
    write(catalog_dir, "005_final.sql", marker_sql("UPDATE items SET note = 'final';", ""))
    for goal in ("001", "002", "003", "004"):
        deployment = services.apply("default", actor="t", to=goal, backend="inline")
        assert deployment.status == "succeeded", deployment.error
    return catalog_dir


def test_the_way_down_is_exact_and_graded(catalog: Path) -> None:
    down = services.path("default", to="001")
    assert down["direction"] == "down" and [h["version"] for h in down["hops"]] == [
        "004",
        "003",
        "002",
    ]
    # 003 is marked as a stop, and 004's change is compatible in neither direction.
    assert down["exact"] and down["stops"] == ["004", "003"]
    # Undoing 004 takes the schema from 004's to 003's: graded with both recorded.
    assert down["hops"][0]["level"] == "none" and down["hops"][1]["level"] == "forward"
    assert all(h["estimate_basis"] == "its last run here" for h in down["hops"])


def test_the_way_up_names_its_stops_and_estimates(cli: Any, catalog: Path) -> None:
    assert services.rollback("default", actor="t", to="001", backend="inline").status == "succeeded"
    up = services.path("default")
    hops = {h["version"]: h for h in up["hops"]}
    assert list(hops) == ["002", "003", "004", "005"] and up["to"] == "005"
    assert hops["003"]["stop"] == "the migration is marked as a stop"
    assert hops["004"]["level"] == "none" and "neither direction" in hops["004"]["stop"]
    # No down part, but a backup is taken first (BACKUP 'auto'): not exact, not a stop.
    assert hops["005"]["level"] is None and hops["005"]["way_back"] == "by backup"
    assert hops["005"]["stop"] is None
    assert hops["002"]["level"] == "full" and hops["002"]["stop"] is None
    assert up["stops"] == ["003", "004"] and not up["exact"]
    assert hops["002"]["estimate_basis"] == "its last run here"
    assert hops["005"]["estimate_seconds"] is not None  # the median of earlier sql runs
    assert up["estimate_seconds"] is not None and up["estimated_hops"] == 4

    data = json.loads(cli("path", "--json").out)
    assert data["stops"] == ["003", "004"]
    text = cli("path").out
    assert "default: 001 → 005 (up, 4 hop(s)" in text and "STOP: the migration is marked" in text
    assert cli("path", "--to", "nope").code == 2


def test_the_console_shows_the_path(client: Any, make_user: Any, catalog: Path) -> None:  # noqa: F811
    from django.urls import reverse

    client.force_login(make_user("viewer"))
    url = reverse("admin:migrator_console_path", args=["default"])
    html = client.get(url + "?to=001").content.decode()
    assert "004 → 001" in html and "Stops at 004, 003" in html and "way back exact" in html
    assert "unknown version" in client.get(url + "?to=nope").content.decode()


def test_without_backups_a_migration_with_no_way_back_is_a_stop(
    catalog: Path, settings: Any
) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKUP": "off"}
    up = services.path("default")
    [final] = [h for h in up["hops"] if h["version"] == "005"]
    assert final["way_back"] == "none" and "no way back" in final["stop"]
