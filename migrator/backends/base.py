"""The backend interface and the registry of backends by name."""

from __future__ import annotations

from importlib import import_module

from ..conf import BACKENDS, migrator_settings
from ..exceptions import BadInput


def job_id(deployment_id: int) -> str:
    return f"migrator-deployment-{deployment_id}"


class Backend:
    """Runs ``engine.execute(deployment_id)`` somewhere."""

    name = ""
    #: Whether the job can outlive the process that enqueued it.
    detached = True

    def enqueue(self, deployment_id: int) -> str:
        raise NotImplementedError


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (default: ``MIGRATOR["BACKEND"]``)."""
    name = name or migrator_settings.BACKEND
    if name not in BACKENDS:
        raise BadInput(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    module = import_module(f"migrator.backends.{name}_backend")
    backend: Backend = module.BACKEND
    return backend
