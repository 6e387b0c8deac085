"""Celery: jobs run by ``celery -A <project> worker``."""

from __future__ import annotations

from ..conf import migrator_settings
from .base import Backend, job_id


class CeleryBackend(Backend):
    name = "celery"

    def enqueue(self, deployment_id: int) -> str:
        from ..tasks import run_deployment_task

        result = run_deployment_task.apply_async(
            args=[deployment_id], task_id=job_id(deployment_id), queue=migrator_settings.QUEUE
        )
        return str(result.id)


BACKEND = CeleryBackend()
