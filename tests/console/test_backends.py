"""The console enqueues on the configured backend: the same Apply form, with a real
rqworker and a real Celery worker running the deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from migrator.models import Deployment
from migrator.states import Status

from ..conftest import write
from ..engine.helpers import (
    checksum,
    items_migration,
    require_redis,
    start_celery_worker,
    start_rqworker,
    stop,
    transform_migration,
    wait_for,
    worker_env,
)
from .test_pages import _submit

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "analytics"]),
    pytest.mark.workers,
]

DONE = {Status.SUCCEEDED.value, Status.FAILED.value, Status.ROLLED_BACK.value}


@pytest.mark.parametrize("backend", ["rq", "celery"])
def test_apply_from_the_console_runs_on_the_workers(
    client: Any, make_user: Any, catalog_dir: Path, settings: Any, backend: str
) -> None:
    require_redis()
    if backend == "rq":
        import django_rq

        django_rq.get_queue("default").empty()
    settings.MIGRATOR = {**settings.MIGRATOR, "BACKEND": backend}
    write(catalog_dir, "001_items.sql", items_migration())
    write(catalog_dir, "002_bump.py", transform_migration(batch_size=500))
    client.force_login(make_user("operator", "apply"))
    response = _submit(client, reverse("admin:migrator_console_apply", args=["default"]))
    deployment = Deployment.objects.get()
    assert response["Location"].endswith(f"/deployment/{deployment.pk}/")
    assert deployment.status == Status.QUEUED and deployment.backend == backend
    assert deployment.requested_by == "admin:operator"
    env = worker_env(catalog_dir)
    env["MIGRATOR_BACKEND"] = backend
    worker = start_rqworker(env, burst=True) if backend == "rq" else start_celery_worker(env)
    try:
        deployment = wait_for(deployment.pk, DONE)
    finally:
        output = stop(worker)
    assert deployment.status == Status.SUCCEEDED, output
    assert checksum("items")[0] == 3000
    page = client.get(reverse("admin:migrator_console_deployment", args=[deployment.pk]))
    assert b"Succeeded" in page.content and b"002" in page.content
