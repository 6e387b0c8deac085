"""The backend interface, and the registry that finds a backend by name or dotted path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from ..conf import BUILTIN_BACKENDS, migrator_settings
from ..exceptions import BadInput

if TYPE_CHECKING:
    from ..models import Deployment


def job_id(deployment_id: int) -> str:
    return f"migrator-deployment-{deployment_id}"


class Backend:
    """Runs ``engine.execute(deployment_id)`` somewhere.

    Subclass it and point ``MIGRATOR["BACKEND"]`` at ``"yourapp.backends.YourBackend"``.
    """

    name = ""
    #: Whether the job can outlive the process that enqueued it.
    detached = True

    def enqueue(self, deployment_id: int) -> str:
        """Queue the deployment; return the job id."""
        raise NotImplementedError

    def job_alive(self, deployment: Deployment) -> bool | None:
        """Whether a queued deployment's job can still start: True (queued or running),
        False (lost: its worker or queue entry is gone), None (cannot tell)."""
        return None


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (default: ``MIGRATOR["BACKEND"]``)."""
    name = name or migrator_settings.BACKEND
    if name in BUILTIN_BACKENDS:
        module = import_string(f"migrator.backends.{name}_backend.BACKEND")
        return module
    if "." not in name:
        raise BadInput(
            f"unknown backend {name!r}: use one of {', '.join(BUILTIN_BACKENDS)} or a dotted "
            "path to a Backend subclass"
        )
    try:
        found = import_string(name)
    except ImportError as exc:
        raise BadInput(f"backend {name!r} cannot be imported: {exc}") from exc
    backend = found() if isinstance(found, type) else found
    if not isinstance(backend, Backend):
        raise BadInput(f"backend {name!r} is not a migrator.backends.Backend")
    return backend
