"""Job backends: one small interface, ``enqueue(deployment_id) -> job id``.

The queue carries only the deployment's primary key; the job id is
``migrator-deployment-<pk>``. Services enqueue after the deployment's transaction commits.
"""

from __future__ import annotations

from .base import Backend, get_backend, job_id

__all__ = ["Backend", "get_backend", "job_id"]
