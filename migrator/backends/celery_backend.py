"""Celery: jobs run by ``celery -A <project> worker``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conf import migrator_settings
from .base import Backend, job_id

if TYPE_CHECKING:
    from ..models import Deployment


class CeleryBackend(Backend):
    name = "celery"

    def enqueue(self, deployment_id: int) -> str:
        from ..tasks import run_deployment_task

        result = run_deployment_task.apply_async(
            args=[deployment_id], task_id=job_id(deployment_id), queue=migrator_settings.QUEUE
        )
        return str(result.id)

    def job_alive(self, deployment: Deployment) -> bool | None:
        """Known to a worker (active, reserved, scheduled) or still in the broker's queue."""
        from ..tasks import run_deployment_task

        app = run_deployment_task.app
        task = deployment.job_id or job_id(deployment.pk)
        try:
            known = app.control.inspect(timeout=1.0).query_task(task) or {}
        except Exception:  # noqa: BLE001 - no broker answer: cannot tell
            return None
        if any(answer for answer in known.values()):
            return True
        try:
            with app.connection_for_read() as connection:
                client = connection.default_channel.client
                waiting = client.lrange(migrator_settings.QUEUE, 0, -1)
        except Exception:  # noqa: BLE001 - not a Redis broker: cannot tell
            return None
        return any(task.encode() in item for item in waiting)


BACKEND = CeleryBackend()
