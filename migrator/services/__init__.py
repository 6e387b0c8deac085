"""The operations that the admin, the CLI and the jobs all call.

Nothing outside this package (and the engine it drives) decides how the catalog, the
applied state and deployments change; adapters only translate input and output.

- :mod:`.catalog`: sync, status, verify, repair, baseline, create, mark done;
- :mod:`.planning`: plans with their rollback guarantee;
- :mod:`.deployments`: apply, roll back, dry runs, approval;
- :mod:`.control`: pause, resume, cancel, retry, wait;
- :mod:`.maintenance`: recover, unlock, prune, restore backups;
- :mod:`.lint`: the lint checks over the catalog or any folder;
- :mod:`.readiness`: pre-checks of a plan on live data;
- :mod:`.estimates`: a plan's duration, locks, downtime, reversibility and disk needs;
- :mod:`.paths`: upgrade and downgrade paths with their stops and estimates;
- :mod:`.compat`: compatibility of recorded schema versions;
- :mod:`.serializers`: the JSON shapes shared by the CLI and the admin.
"""

from .catalog import (
    baseline,
    create,
    mark_done,
    next_version,
    repair,
    spec_for,
    sync,
    verify,
)
from .control import cancel, get_deployment, pause, resume, retry, wait
from .deployments import apply, approve, create_deployment, enqueue, reject, rollback, start
from .estimates import Estimate, estimate
from .lint import LintReport, lint, lint_plan, list_checks
from .maintenance import prune, recover, restore_backup, unlock, worker_alive
from .paths import path
from .planning import Plan, PlannedRun, plan
from .readiness import plan_readiness
from .status import status

__all__ = [
    "Estimate",
    "LintReport",
    "Plan",
    "PlannedRun",
    "apply",
    "approve",
    "baseline",
    "cancel",
    "create",
    "create_deployment",
    "enqueue",
    "estimate",
    "get_deployment",
    "lint",
    "lint_plan",
    "list_checks",
    "mark_done",
    "next_version",
    "path",
    "pause",
    "plan",
    "plan_readiness",
    "prune",
    "recover",
    "reject",
    "repair",
    "restore_backup",
    "resume",
    "retry",
    "rollback",
    "spec_for",
    "start",
    "status",
    "sync",
    "unlock",
    "verify",
    "wait",
    "worker_alive",
]
