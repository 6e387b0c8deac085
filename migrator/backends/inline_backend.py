"""Runs the deployment right away in the calling process (CLI, tests)."""

from __future__ import annotations

from .base import Backend, job_id
from .jobs import run_deployment


class InlineBackend(Backend):
    name = "inline"
    detached = False

    def enqueue(self, deployment_id: int) -> str:
        run_deployment(deployment_id)
        return job_id(deployment_id)


BACKEND = InlineBackend()
