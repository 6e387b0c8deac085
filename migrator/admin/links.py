"""Columns the admin pages share: links between migrator's records, times to the second in
the current time zone, and states said in words (an icon would mean "error")."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..templatetags.migrator_console import when


def change_link(obj: Model | None, label: Any = None) -> SafeString | str:
    """A link to ``obj``'s admin page ("" for None)."""
    if obj is None:
        return ""
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def changelist_link(model: str, label: Any, **filters: Any) -> SafeString:
    """A link to ``model``'s admin list, filtered."""
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    url = reverse(f"admin:migrator_{model}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def deployment_link(deployment_id: int | None, dry_run: bool = False) -> SafeString | str:
    """A deployment's console page (live progress, report), where people look first."""
    if deployment_id is None:
        return ""
    url = reverse("admin:migrator_console_deployment", args=[deployment_id])
    kind = "dry run" if dry_run else "deployment"
    return format_html('<a href="{}">{} #{}</a>', url, kind, deployment_id)


def moment(value: Any) -> SafeString | str:
    """A time in the current time zone, to the second; the zone in its tooltip (lists
    are narrow)."""
    full = when(value)
    if not full:
        return ""
    date, _, rest = full.partition(" ")
    clock, _, zone = rest.partition(" ")
    return format_html('<time title="{}">{} {}</time>', zone, date, clock)


def size(value: int | None) -> str:
    """Bytes in human units."""
    if value is None:
        return ""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return str(value)  # pragma: no cover - the loop always returns
