"""Runs the deployment right away in the calling process (CLI, tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine.locks import process_alive
from .base import Backend, job_id
from .jobs import run_deployment

if TYPE_CHECKING:
    from ..models import Deployment


class InlineBackend(Backend):
    name = "inline"
    detached = False

    def enqueue(self, deployment_id: int) -> str:
        run_deployment(deployment_id)
        return job_id(deployment_id)

    def job_alive(self, deployment: Deployment) -> bool | None:
        return process_alive(deployment.worker) if deployment.worker else None


BACKEND = InlineBackend()
