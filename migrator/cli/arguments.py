"""Every subcommand of ``manage.py migrator`` and its options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..catalog.formats import SCAFFOLDS
from ..conf import BACKUP_MODES

Adder = Callable[..., Any]


def _common(parser: Any, json_output: bool) -> None:
    if json_output:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
    # Also accepted after the subcommand (argparse only takes the top-level one before it).
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        default=argparse.SUPPRESS,
        help="0 quiet, 1 normal, 2 and 3 more detail.",
    )


def add_all(sub: Any) -> None:
    def add(name: str, help_text: str, json_output: bool = True) -> Any:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, json_output)
        return p

    p = add("status", "Current version, applied, pending, drifted and running work.")
    p.add_argument("--database", help="Only this target alias.")

    p = add("sync", "Mirror the catalog on disk into the database (all or nothing).")
    p.add_argument(
        "--check", action="store_true", help="Change nothing; exit 1 if a sync would change."
    )

    p = add("verify", "Check applied migrations against their files (drift, missing).")
    p.add_argument("--database")

    p = add("repair", "Accept the changed checksum of drifted migrations (audited).")
    p.add_argument("--database")
    p.add_argument("--reason", required=True, help="Why the change is accepted.")
    p.add_argument("versions", nargs="*", help="Only these versions (default: all drifted).")

    p = add("baseline", "Mark everything up to a version applied without running it.")
    p.add_argument("--version", required=True, dest="baseline_version")
    p.add_argument("--database", default=None)

    p = add("mark-done", "Mark a migration migrator cannot run applied, once run elsewhere.")
    p.add_argument("versions", nargs="+")
    p.add_argument("--database", default=None)
    p.add_argument("--reason", required=True, help="How and when it was run.")

    p = add("create", "Scaffold a new migration with the next version.")
    p.add_argument("name")
    p.add_argument("--format", default="sql", choices=sorted(SCAFFOLDS), dest="fmt")
    p.add_argument("--database")
    p.add_argument("--dir", dest="directory", help="Folder to write to.")

    p = add("lint", "Check migrations for risky statements (exit 1 on blocking findings).", False)
    p.add_argument("path", nargs="?", help="Any folder of migrations (default: the catalog).")
    p.add_argument("--database", help="Only this target (and its dialect).")
    p.add_argument("--pending", action="store_true", help="Only migrations not applied yet.")
    p.add_argument(
        "--dialect", choices=["postgresql", "sqlite"], help="Dialect of PATH (default postgresql)."
    )
    p.add_argument(
        "--format",
        dest="output",
        choices=["text", "json", "github"],
        default="text",
        help="github: workflow annotation lines.",
    )
    p.add_argument(
        "--list-checks", action="store_true", help="Every check with its id and severity."
    )
    p.add_argument("--json", action="store_true", help="Same as --format json.")

    p = add("diff", "Schema changes between two recorded versions, with compatibility.")
    p.add_argument("from_version", metavar="V1")
    p.add_argument("to_version", metavar="V2")
    p.add_argument("--database", default=None)

    p = add("path", "The way from the current version to --to: hops, stops, estimate.")
    p.add_argument("--to", dest="to_version", help="Target version (default: the latest).")
    p.add_argument("--database", default=None)

    p = add("compat", "Compatibility matrix of a target's recorded schema versions.")
    p.add_argument("--database", default=None)
    p.add_argument("--from", dest="from_version")
    p.add_argument("--to", dest="to_version")
    p.add_argument("--csv", action="store_true", help="The matrix as CSV.")
    p.add_argument(
        "--by-release",
        action="store_true",
        help="A row and column per release (its last version's schema) instead of per version.",
    )

    _moving(add)


def _moving(add: Adder) -> None:
    """Subcommands that move targets (apply, rollback, ...); see :mod:`migrator.engine`."""

    def moving(p: Any) -> None:
        p.add_argument("--database", default=None, help="Target alias (default: DEFAULT_DATABASE).")
        p.add_argument(
            "--dry-run", action="store_true", help="Run in isolation, roll back, report."
        )
        p.add_argument(
            "--async",
            action="store_true",
            dest="async_",
            help="Queue it and return at once (rq or celery backend).",
        )
        p.add_argument("--backend", help="Job backend (default: inline, or BACKEND with --async).")
        p.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    p = add("plan", "Show what apply (or rollback) would run, after the preflight checks.")
    p.add_argument("--database", default=None)
    p.add_argument("--to", dest="to_version")
    p.add_argument("--rollback", action="store_true", help="Plan a rollback instead.")
    p.add_argument("--steps", type=int, help="With --rollback: how many migrations.")
    p.add_argument("--atomic", action="store_true", help="Plan it as one transaction.")
    p.add_argument(
        "--readiness",
        action="store_true",
        help="Count on live data what the plan would trip over (exit 1 if anything).",
    )

    p = add("apply", "Apply pending migrations, up to --to (default: all).")
    p.add_argument("--to", dest="to_version")
    moving(p)
    p.add_argument("--backup", choices=BACKUP_MODES, help="Back up tables before migrations.")
    p.add_argument(
        "--no-auto-rollback", action="store_true", help="On failure, stop without undoing."
    )
    p.add_argument("--atomic", action="store_true", help="The whole deployment in one transaction.")
    p.add_argument(
        "--allow-partial-rollback",
        action="store_true",
        help="Accept that an automatic rollback may stop at a migration with no way back.",
    )
    p.add_argument(
        "--override-lint",
        metavar="REASON",
        help="With LINT_GATE on: apply despite blocking lint findings, for this reason.",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Parameter for python steps (ctx.params); repeatable.",
    )

    p = add("rollback", "Roll back to --to VERSION, or the last --steps N migrations (default 1).")
    p.add_argument("--to", dest="to_version")
    p.add_argument("--steps", type=int)
    moving(p)

    for name, text in (
        ("pause", "Pause a running deployment at its next batch or step."),
        ("resume", "Continue a paused, interrupted or failed deployment."),
        ("cancel", "Cancel a deployment; the migration in progress is undone."),
        ("retry", "Resume a failed deployment, or plan a finished one again."),
        ("approve", "Approve a deployment that waits for approval."),
        ("show", "A deployment's runs and its full story, in order."),
    ):
        p = add(name, text)
        p.add_argument("deployment", type=int)
        if name in ("resume", "cancel", "retry", "approve"):
            p.add_argument("--async", action="store_true", dest="async_")
            p.add_argument("--backend")
    p = add("reject", "Refuse a deployment that waits for approval.")
    p.add_argument("deployment", type=int)
    p.add_argument("--reason", required=True)

    add("recover", "Mark deployments whose worker is gone as interrupted.")
    p = add("unlock", "Remove a target lock whose holder is gone (audited).")
    p.add_argument("--database", default=None)
    p.add_argument("--force", action="store_true", help="Even if its holder looks alive.")
    p = add("prune", "Remove old backups and the captured values of rolled-back runs.")
    p.add_argument("--keep", type=int, default=5, help="Backups to keep per database (default 5).")
    p = add("restore-backup", "Put a backup's tables back (verified first; audited).")
    p.add_argument("backup", type=int)
    p.add_argument("--yes", action="store_true")
