"""History tables (django-simple-history) that cost as little as possible to write."""

from __future__ import annotations

from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords


class AuditHistory(HistoricalRecords):
    """``HistoricalRecords`` whose tables are indexed only by the object's ``id``.

    History rows are written at every change (several per migration applied) and read
    per object, in ``history_id`` order or by ``id`` (the admin's history page, the
    console): an index on ``history_date`` or ``history_user`` is one more B-tree
    written by every change (a page of every commit) that no query uses. Deleting a user
    still clears their key in history rows, by a scan; users are rarely deleted."""

    def get_extra_fields(self, model: type[models.Model], fields: Any) -> dict[str, Any]:
        extra: dict[str, Any] = super().get_extra_fields(model, fields)
        extra["history_date"] = models.DateTimeField()
        user = extra.get("history_user")
        if isinstance(user, models.ForeignKey):
            user.db_index = False  # type: ignore[attr-defined]  # set by Field.__init__
        return extra
