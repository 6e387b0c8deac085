"""The event log: one append-only row per thing that happened, with who did it."""

from __future__ import annotations

import getpass
import logging
import socket
from typing import Any

from .models import Event

logger = logging.getLogger("migrator")


def cli_actor() -> str:
    """Who is acting from a shell: the OS user and host, e.g. ``cli:alice@build-7``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


#: simple-history's ``history_change_reason`` is a varchar(100).
REASON_LENGTH = 100


def change_reason(text: str) -> str:
    """A history change reason that fits its column (the full text goes to the event log)."""
    text = " ".join(text.split())
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def record(
    action: str,
    message: str,
    *,
    actor: str,
    level: str = Event.Level.INFO,
    database: str = "",
    deployment: Any = None,
    run: Any = None,
    step_run: Any = None,
    **data: Any,
) -> Event:
    """Append an event and mirror it to the ``migrator`` logger."""
    from .engine import rows

    # Below the ORM: an event's data (a big deployment's outline: hundreds of kilobytes
    # of JSON) then goes as a statement's parameter, not quoted into its text.
    event = rows.build(
        Event,
        action=action,
        message=message,
        actor=actor,
        level=level,
        database=database,
        deployment=deployment,
        run=run,
        step_run=step_run,
        data=data,
    )
    rows.create_with_history([event], reason="")
    logger.log(logging.getLevelName(level.upper()), "%s (%s)", message, actor)
    return event
