"""django-rq: jobs run by ``python manage.py rqworker``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..conf import migrator_settings
from .base import Backend, job_id

if TYPE_CHECKING:
    from ..models import Deployment

_WAITING = {"queued", "deferred", "scheduled"}


class RQBackend(Backend):
    name = "rq"

    def enqueue(self, deployment_id: int) -> str:
        import django_rq

        queue = django_rq.get_queue(migrator_settings.QUEUE)
        job = queue.enqueue(
            "migrator.backends.jobs.run_deployment",
            deployment_id,
            job_id=job_id(deployment_id),
            job_timeout=-1,  # progress is bounded by heartbeats, not by a job timeout
            result_ttl=0,  # the id is reused when a deployment is resumed
            failure_ttl=7 * 24 * 3600,
        )
        return str(job.id)

    def job_alive(self, deployment: Deployment) -> bool | None:
        import django_rq
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        connection = django_rq.get_connection(migrator_settings.QUEUE)
        try:
            job = Job.fetch(deployment.job_id or job_id(deployment.pk), connection=connection)
        except NoSuchJobError:
            return False
        status = str(job.get_status(refresh=True) or "")
        status = getattr(status, "value", status)
        if status in _WAITING:
            return True
        if status != "started":
            return False
        beat = job.last_heartbeat
        if beat is None:
            return True
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        limit = timedelta(seconds=migrator_settings.STALE_AFTER_SECONDS)
        return datetime.now(UTC) - beat < limit


BACKEND = RQBackend()
