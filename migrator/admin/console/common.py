"""What every console page shares: the admin's context, acting as the admin user, and
turning a refused operation into a message instead of an error page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from simple_history.models import HistoricalRecords

from ...catalog import CatalogError
from ...exceptions import MigratorError
from . import access

T = TypeVar("T")


def page(
    request: HttpRequest, template: str, title: str, context: dict[str, Any] | None = None
) -> TemplateResponse:
    """A console page inside the admin's layout, with what the user may do."""
    return TemplateResponse(
        request,
        f"migrator/console/{template}",
        {
            **admin.site.each_context(request),
            "title": title,
            "may": access.allowed(request),
            **(context or {}),
        },
    )


@contextmanager
def acting_as(request: HttpRequest) -> Iterator[None]:
    """simple-history rows written meanwhile name the admin user (also in projects
    without simple-history's middleware)."""
    context = HistoricalRecords.context
    previous = getattr(context, "request", None)
    context.request = request
    try:
        yield
    finally:
        if previous is None:
            del context.request
        else:
            context.request = previous


def attempt(request: HttpRequest, call: Callable[[], T]) -> T | None:
    """Run a service as the admin user; a refusal becomes an error message (and None)."""
    try:
        with acting_as(request):
            return call()
    except CatalogError as exc:
        messages.error(request, "The catalog has problems: " + "; ".join(map(str, exc.problems)))
    except MigratorError as exc:
        messages.error(request, str(exc))
    return None


def problem(call: Callable[[], T]) -> tuple[T | None, str]:
    """A read-only service call for a confirmation page: its result, or why it refuses."""
    try:
        return call(), ""
    except CatalogError as exc:
        return None, "The catalog has problems: " + "; ".join(map(str, exc.problems))
    except MigratorError as exc:
        return None, str(exc)


def to_console() -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:migrator_console"))


def to_deployment(deployment_id: int) -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:migrator_console_deployment", args=[deployment_id]))
