"""Browser tests: the console in a real headless Chromium (the system's, driven by
Playwright) against Django's live server, on the test databases.

Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests
make themselves (setting up users, checking data) are plain synchronous code, so Django's
async-safety guard is told so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..console.conftest import make_user  # noqa: F401 - fixture
from ..engine.conftest import restore_target_schema  # noqa: F401 - autouse fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("MIGRATOR_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
#: Where the tests write screenshots (docs/console/ keeps the chosen ones).
SHOTS = Path(os.environ.get("MIGRATOR_SCREENSHOTS", ROOT / "var" / "screenshots"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: scripts/test.sh installs it (apt)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    """Save a full-page screenshot of ``page`` as ``<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def login(live_server: Any) -> Iterator[Callable[[Any, str], None]]:
    """Log ``page`` in through the admin's login form."""

    def log_in(page: Any, username: str) -> None:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/migrator/console/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/migrator/console/")

    yield log_in
