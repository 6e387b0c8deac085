"""django-rq: jobs run by ``python manage.py rqworker``."""

from __future__ import annotations

from ..conf import migrator_settings
from .base import Backend, job_id


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


BACKEND = RQBackend()
