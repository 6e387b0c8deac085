"""Celery tasks (found by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from celery import shared_task

from .backends.jobs import run_deployment


@shared_task(name="migrator.run_deployment", acks_late=True, ignore_result=True)
def run_deployment_task(deployment_id: int) -> str:
    return run_deployment(deployment_id)
