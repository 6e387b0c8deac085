"""The operations that the admin, the CLI and the jobs all call.

Nothing outside this package (and the engine it drives) decides how the catalog, the
applied state and deployments change; adapters only translate input and output.
"""

from .catalog_ops import baseline, create, next_version, repair, spec_for, status, sync, verify
from .deployment_ops import (
    Plan,
    apply,
    cancel,
    create_deployment,
    enqueue,
    pause,
    plan,
    prune,
    recover,
    resume,
    rollback,
    unlock,
    wait,
)

__all__ = [
    "Plan",
    "apply",
    "baseline",
    "cancel",
    "create",
    "create_deployment",
    "enqueue",
    "next_version",
    "pause",
    "plan",
    "prune",
    "recover",
    "repair",
    "resume",
    "rollback",
    "spec_for",
    "status",
    "sync",
    "unlock",
    "verify",
    "wait",
]
