"""Small filters of the console's templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """``83.2`` → ``1 min 23 s``; small values keep their fraction."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f} s"
    whole = round(value)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def badge(status: str, label: str = "") -> SafeString:
    """A status (or migration state) as a coloured label that says it in words."""
    text = label or str(status).replace("_", " ")
    return format_html(
        '<span class="mg-badge mg-status-{} mg-state-{}">{}</span>', status, status, text
    )


@register.filter
def when(value: Any) -> str:
    """A time in the current time zone, to the second (ISO strings accepted)."""
    if not value:
        return ""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """``mapping[key]`` (None when missing)."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def number(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def words(value: Any) -> str:
    """``table_added`` → ``table added``."""
    return str(value or "").replace("_", " ")


#: Lines of one script shown on a page: a dump turned migration (hundreds of thousands of
#: lines) would make the page as big as the dump.
SQL_LINES_SHOWN = 300


@register.filter
def sql(value: Any) -> str:
    """SQL for display: without the blank lines that keep a section's line numbers equal
    to the file's (a section that starts on line 12 is stored after 11 newlines); a long
    script shows its beginning and its end, and says how many lines are left out."""
    if not value:
        return ""
    lines = [line.rstrip() for line in str(value).strip("\n").splitlines()]
    if len(lines) > SQL_LINES_SHOWN:
        head, tail = SQL_LINES_SHOWN - 20, 20
        hidden = len(lines) - head - tail
        lines = [
            *lines[:head],
            f"-- … {hidden:,} more lines, in the migration's file",
            *lines[-tail:],
        ]
    return "\n".join(lines)
