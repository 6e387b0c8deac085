"""A folder whose files did not change gives its migrations again without being read; any
change to what they were read from (a file, a file added next to one, a subfolder's
content) makes it read again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from migrator.catalog import load_catalog, reuse
from migrator.catalog.errors import CatalogError

from .conftest import marker_sql, write

pytestmark = pytest.mark.django_db


#: Files settle after 20 ms in these tests (two seconds in use).
_SETTLE_NS = 20_000_000


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch):
    """Files count as settled once left alone for ``_SETTLE_NS``: see :func:`_specs`."""
    reuse.forget()
    monkeypatch.setattr(reuse, "SETTLED_NS", _SETTLE_NS)
    yield
    reuse.forget()


def _settle() -> None:
    # Longer than the settling time, and than a tick of the filesystem's clock: a file
    # written after this has other times than one written before.
    time.sleep(2 * _SETTLE_NS / 1e9)


def _catalog():
    _settle()
    return load_catalog()


def _specs() -> dict[str, object]:
    return {s.version: s for s in _catalog().for_database("default")}


def test_unchanged_files_give_equal_copies_that_can_be_changed_safely(
    catalog_dir: Path, settled: None
) -> None:
    write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);", "DROP TABLE a;"))
    write(catalog_dir, "002_b.sql", marker_sql("CREATE TABLE b (id int);", "DROP TABLE b;"))
    first = _specs()
    assert len(reuse._kept) == 1
    first["002"].options["foreign_keys"] = False  # what the loader may do to its copy
    second = _specs()
    assert second["001"] is not first["001"] and second["001"] == first["001"]
    assert second["002"].options == {} and second["002"].depends_on == ["001"]


def test_a_file_rewritten_with_the_same_size_and_time_is_read_again(
    catalog_dir: Path, settled: None
) -> None:
    path = write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);"))
    assert "TABLE a " in _specs()["001"].steps[0].forward
    assert reuse._kept
    before = os.stat(path)
    path.write_text(marker_sql("CREATE TABLE z (id int);"))
    # Same size, modification time put back: only the change time tells.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    assert "TABLE z " in _specs()["001"].steps[0].forward


def test_a_script_config_added_next_to_a_script_is_read(catalog_dir: Path, settled: None) -> None:
    write(catalog_dir, "V1__users.sql", "CREATE TABLE users (id int);\n")
    write(catalog_dir, "V2__index.sql", "CREATE INDEX users_id ON users (id);\n")
    assert _specs()["2"].steps[0].transactional
    assert reuse._kept
    write(catalog_dir, "V2__index.sql.conf", "executeInTransaction=false\n")
    assert not _specs()["2"].steps[0].transactional


def test_a_diesel_folder_keeps_its_warnings_and_sees_new_files(
    catalog_dir: Path, settled: None
) -> None:
    folder = catalog_dir / "2024-01-01-000000_users"
    write(folder, "up.sql", "CREATE TABLE users (id int);\n")
    write(folder, "down.sql", "DROP TABLE users;\n")
    write(folder, "notes.txt", "scratch\n")
    for _ in range(2):  # built, then reused: the warning is given both times
        catalog = _catalog()
        assert [w.message for w in catalog.warnings if w.path.endswith("notes.txt")]
    assert reuse._kept
    assert catalog.for_database("default")[0].steps[0].transactional
    write(folder, "metadata.toml", "run_in_transaction = false\n")
    assert not _catalog().for_database("default")[0].steps[0].transactional


def test_a_file_added_to_an_empty_flyway_subfolder_is_found(
    catalog_dir: Path, settled: None
) -> None:
    write(catalog_dir, "V1__users.sql", "CREATE TABLE users (id int);\n")
    (catalog_dir / "2025").mkdir()
    assert set(_specs()) == {"1"}
    assert reuse._kept
    write(catalog_dir / "2025", "V2__posts.sql", "CREATE TABLE posts (id int);\n")
    assert set(_specs()) == {"1", "2"}


def test_files_changed_in_the_last_seconds_are_not_kept(catalog_dir: Path) -> None:
    reuse.forget()
    write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);"))
    load_catalog()
    assert reuse._kept == {}, "just written: read again until it settles"


def test_folders_with_python_migrations_or_errors_are_read_every_time(
    catalog_dir: Path, settled: None
) -> None:
    write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);"))
    write(
        catalog_dir,
        "002_b.py",
        "from migrator import dsl\n\nclass Migration(dsl.Migration):\n"
        "    steps = [dsl.RunSQL('SELECT 1', backward='SELECT 1')]\n",
    )
    assert set(_specs()) == {"001", "002"}
    assert reuse._kept == {}
    (catalog_dir / "002_b.py").unlink()
    write(catalog_dir, "003_c.sql", marker_sql("CREATE TABLE c (id int);\x00"))
    for _ in range(2):
        with pytest.raises(CatalogError, match="NUL byte"):
            _catalog()
    assert reuse._kept == {}


def test_reuse_can_be_switched_off(catalog_dir: Path, settled: None, settings) -> None:
    settings.MIGRATOR = {**settings.MIGRATOR, "CATALOG_REUSE": False}
    write(catalog_dir, "001_a.sql", marker_sql("CREATE TABLE a (id int);"))
    _catalog()
    assert reuse._kept == {}
