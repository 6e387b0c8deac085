"""The function every queued job calls: it takes a primary key, never an object."""

from __future__ import annotations

from django.db import close_old_connections


def run_deployment(deployment_id: int) -> str:
    """Execute (or resume) a deployment; return its final status."""
    from ..engine.executor import execute

    close_old_connections()
    try:
        deployment = execute(deployment_id)
        return deployment.status if deployment is not None else "missing"
    finally:
        close_old_connections()
