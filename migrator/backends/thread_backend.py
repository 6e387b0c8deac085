"""Runs the deployment in a thread of this process: the embedded default for the demo server."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from django.db import connections

from ..engine.locks import process_alive
from .base import Backend, job_id
from .jobs import run_deployment

if TYPE_CHECKING:
    from ..models import Deployment


def _run(deployment_id: int) -> None:
    try:
        run_deployment(deployment_id)
    finally:
        connections.close_all()


class ThreadBackend(Backend):
    name = "thread"
    detached = False  # the thread dies with the process

    def enqueue(self, deployment_id: int) -> str:
        thread = threading.Thread(
            target=_run, args=(deployment_id,), name=job_id(deployment_id), daemon=True
        )
        thread.start()
        return job_id(deployment_id)

    def job_alive(self, deployment: Deployment) -> bool | None:
        # The job lives in the process that queued it (recorded as the worker).
        return process_alive(deployment.worker) if deployment.worker else None


BACKEND = ThreadBackend()
