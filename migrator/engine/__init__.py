"""Executing deployments.

``migrator.engine.executor.execute(deployment_id)`` is the one entry point: it takes the
target's lock, claims the deployment, beats its heartbeat and drives it to a terminal state
(or a pause), for live runs and dry runs alike. This package imports nothing eagerly so
that the step kinds (``migrator.engine.kinds``) can be imported by the catalog.
"""


def execute(deployment_id: int, reporter: object = None) -> object:
    """Run (or resume) a deployment; see :func:`migrator.engine.executor.execute`."""
    from .executor import execute as run

    return run(deployment_id, reporter)  # type: ignore[arg-type]
