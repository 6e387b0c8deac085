"""Runs the deployment in a thread of this process: the embedded default for the demo server."""

from __future__ import annotations

import threading

from django.db import connections

from .base import Backend, job_id
from .jobs import run_deployment


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


BACKEND = ThreadBackend()
