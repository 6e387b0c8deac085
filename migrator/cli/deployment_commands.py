"""Handlers of the subcommands that move targets and control deployments."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from .. import audit, services
from ..backends import get_backend
from ..conf import migrator_settings
from ..engine.progress import reporting
from ..schema.lint.registry import human_bytes
from ..services import serializers
from ..services.planning import PARTIAL
from ..states import Status
from . import rendering
from .common import Options, database_of, vendor_of, verbosity
from .progress import reporter_for

# -- moving targets ---------------------------------------------------------------------


def cmd_plan(command: BaseCommand, options: Options) -> None:
    database = database_of(options)
    result = services.plan(
        database,
        to=options.get("to_version"),
        direction="backward" if options["rollback"] else "forward",
        count=options.get("steps"),
        atomic=options.get("atomic") or None,
    )
    checks = services.plan_readiness(result) if options.get("readiness") else None
    cost = services.estimate(result) if options.get("readiness") else None
    if options["json"]:
        data = result.as_dict()
        if checks is not None and cost is not None:
            data["readiness"] = [check.as_dict() for check in checks]
            data["estimate"] = cost.as_dict()
        rendering.write_json(command, data)
    else:
        rendering.plan(command, result, vendor_of(database))
        if checks is not None and cost is not None:
            rendering.readiness(command, checks)
            rendering.estimate(command, cost)
    failing = [check for check in checks or [] if not check.ok]
    if failing:
        raise CommandError(
            f"{len(failing)} readiness check(s) found rows the plan would fail on, or could "
            "not count them",
            returncode=1,
        )
    if cost is not None and cost.disk_ok is False:
        raise CommandError(
            f"not enough free disk on {database} for the plan's backups and captured values "
            f"({human_bytes(cost.disk_needed_bytes)} needed, "
            f"{human_bytes(cost.disk_free_bytes)} free)",
            returncode=1,
        )


def _confirm(command: BaseCommand, options: Options, question: str, required: bool) -> None:
    if options.get("yes") or options.get("json"):
        return
    if not sys.stdin.isatty():
        if required:
            raise CommandError(
                f"{question} Pass --yes to confirm when not on a terminal.", returncode=2
            )
        return
    answer = input(f"{question} [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("nothing done", returncode=1)


def _confirmed(options: Options) -> bool:
    """Whether the operator answered the plan's question: --yes, or yes on a terminal."""
    return bool(options.get("yes")) or sys.stdin.isatty()


def _params(raw: list[str]) -> dict[str, str]:
    params = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {item!r} must be KEY=VALUE", returncode=2)
        params[key] = value
    return params


def _backend(options: Options) -> str:
    if options.get("backend"):
        return str(options["backend"])
    if options.get("async_"):
        return migrator_settings.BACKEND
    return "inline"


def _check_backend(options: Options) -> None:
    """Refuse --async with a backend whose jobs die with this process, before any work."""
    backend = _backend(options)
    if options.get("async_") and not get_backend(backend).detached:
        raise CommandError(
            f"--async needs a queue backend (rq or celery), not {backend!r}", returncode=2
        )


def _run_with_progress(command: BaseCommand, options: Options, start: Callable[[], Any]) -> Any:
    """Start a deployment; with the inline backend, draw progress while it runs here."""
    if _backend(options) != "inline" or options.get("json") or not verbosity(options):
        return start()
    reporter = reporter_for(command.stdout)
    try:
        with reporting(reporter):
            return start()
    finally:
        reporter.close()


def _follow(command: BaseCommand, deployment: Any, options: Options) -> None:
    """Wait for the deployment (unless --async), then report; exit 1 unless it succeeded."""
    if not options.get("async_"):
        deployment = services.wait(deployment.pk)
    _report(command, deployment, options)


def _report(command: BaseCommand, deployment: Any, options: Options) -> None:
    deployment.refresh_from_db()
    if options.get("json"):
        rendering.write_json(command, serializers.deployment_dict(deployment))
    elif verbosity(options):
        if deployment.dry_run and deployment.report:
            rendering.dry_run(command, deployment.report)
        ok = deployment.status == Status.SUCCEEDED
        style = command.style.SUCCESS if ok else command.style.ERROR
        command.stdout.write(
            style(
                f"deployment #{deployment.pk} {deployment.status.replace('_', ' ')}"
                f"{' (dry run, rolled back)' if deployment.dry_run else ''}"
            )
        )
    waiting = deployment.status in (Status.QUEUED, Status.RUNNING) and options.get("async_")
    held = deployment.status == Status.AWAITING_APPROVAL
    if held and not options.get("json"):
        command.stdout.write(f"deployment #{deployment.pk} waits for approval")
    if deployment.status != Status.SUCCEEDED and not waiting and not held:
        reason = deployment.error or f"deployment #{deployment.pk} is {deployment.status}"
        raise CommandError(reason, returncode=1)
    blocked = (deployment.plan or {}).get("blocked_by")
    if blocked and deployment.status == Status.SUCCEEDED and not deployment.dry_run:
        raise CommandError(
            f"stopped before {blocked['version']}: {blocked['reason']}; run it with its own "
            f"tool, then `migrator mark-done {blocked['version']} --reason ...`",
            returncode=1,
        )


def cmd_apply(command: BaseCommand, options: Options) -> None:
    database = database_of(options)
    params = _params(options["param"])
    _check_backend(options)
    allow_partial = options["allow_partial_rollback"]
    if not options["json"] and not options["dry_run"]:
        preview = services.plan(
            database,
            to=options.get("to_version"),
            atomic=options["atomic"] or None,
            auto_rollback=False if options["no_auto_rollback"] else None,
            backup=options.get("backup"),
        )
        if verbosity(options):
            rendering.plan(command, preview, vendor_of(database))
        if not preview.runs and not preview.blocked_by:
            return
        partial = preview.guarantee == PARTIAL and not allow_partial
        if preview.runs:
            question = f"Apply {len(preview.runs)} migrations to {database}?"
            if partial:
                question = (
                    f"If a step fails, the automatic rollback may stop at "
                    f"{', '.join(preview.uncovered)} (no way back). {question}"
                )
            _confirm(command, options, question, required=False)
            # --yes answers what the printed plan asks, this included; with the plan not
            # printed (-v0) only --allow-partial-rollback accepts it.
            shown = bool(verbosity(options))
            allow_partial = allow_partial or (partial and shown and _confirmed(options))
    deployment = _run_with_progress(
        command,
        options,
        lambda: services.apply(
            database,
            actor=audit.cli_actor(),
            to=options.get("to_version"),
            dry_run=options["dry_run"],
            backend=_backend(options),
            backup=options.get("backup"),
            auto_rollback=False if options["no_auto_rollback"] else None,
            atomic=options["atomic"] or None,
            allow_partial_rollback=allow_partial,
            params=params,
            lint_override=options.get("override_lint"),
        ),
    )
    _follow(command, deployment, options)


def cmd_rollback(command: BaseCommand, options: Options) -> None:
    database = database_of(options)
    _check_backend(options)
    to, count = options.get("to_version"), options.get("steps")
    if not options["dry_run"]:
        preview = services.plan(database, to=to, direction="backward", count=count)
        if not options["json"] and verbosity(options):
            rendering.plan(command, preview, vendor_of(database))
        if not preview.runs:
            return
        _confirm(
            command,
            options,
            f"Roll back {len(preview.runs)} migrations on {database}?",
            required=True,
        )
    deployment = _run_with_progress(
        command,
        options,
        lambda: services.rollback(
            database,
            actor=audit.cli_actor(),
            to=to,
            count=count,
            dry_run=options["dry_run"],
            backend=_backend(options),
        ),
    )
    _follow(command, deployment, options)


def _control_output(command: BaseCommand, options: Options, deployment: Any, what: str) -> None:
    if options["json"]:
        rendering.write_json(command, {"deployment": deployment.pk, "status": deployment.status})
    else:
        command.stdout.write(f"deployment #{deployment.pk}: {what} (now {deployment.status})")


def cmd_pause(command: BaseCommand, options: Options) -> None:
    deployment = services.pause(options["deployment"], actor=audit.cli_actor())
    _control_output(command, options, deployment, "pause requested")


def _continue(command: BaseCommand, options: Options, start: Callable[[], Any]) -> None:
    _check_backend(options)
    deployment = _run_with_progress(command, options, start)
    _follow(command, deployment, options)


def cmd_resume(command: BaseCommand, options: Options) -> None:
    _continue(
        command,
        options,
        lambda: services.resume(
            options["deployment"], actor=audit.cli_actor(), backend=_backend(options)
        ),
    )


def cmd_retry(command: BaseCommand, options: Options) -> None:
    _continue(
        command,
        options,
        lambda: services.retry(
            options["deployment"], actor=audit.cli_actor(), backend=_backend(options)
        ),
    )


def cmd_approve(command: BaseCommand, options: Options) -> None:
    _continue(
        command,
        options,
        lambda: services.approve(options["deployment"], actor=audit.cli_actor()),
    )


def cmd_reject(command: BaseCommand, options: Options) -> None:
    deployment = services.reject(
        options["deployment"], actor=audit.cli_actor(), reason=options["reason"]
    )
    _control_output(command, options, deployment, "rejected")


def cmd_cancel(command: BaseCommand, options: Options) -> None:
    deployment = services.cancel(
        options["deployment"], actor=audit.cli_actor(), backend=options.get("backend") or None
    )
    _control_output(command, options, deployment, "cancel requested")


def cmd_show(command: BaseCommand, options: Options) -> None:
    deployment = services.get_deployment(options["deployment"])
    events = serializers.story(deployment)
    if options["json"]:
        rendering.write_json(
            command,
            {**serializers.deployment_dict(deployment, with_steps=True), "events": events},
        )
        return
    rendering.story(command, deployment, events)


def cmd_recover(command: BaseCommand, options: Options) -> None:
    recovered = services.recover(actor=audit.cli_actor())
    if options["json"]:
        rendering.write_json(command, {"interrupted": recovered})
    else:
        command.stdout.write(f"interrupted: {recovered or 'none'}")


def cmd_unlock(command: BaseCommand, options: Options) -> None:
    removed = services.unlock(database_of(options), actor=audit.cli_actor(), force=options["force"])
    if options["json"]:
        rendering.write_json(command, {"removed": removed})
    else:
        command.stdout.write("lock removed" if removed else "no lock")


def cmd_prune(command: BaseCommand, options: Options) -> None:
    removed = services.prune(actor=audit.cli_actor(), keep=options["keep"])
    if options["json"]:
        rendering.write_json(command, removed)
    else:
        command.stdout.write(
            f"removed {len(removed['backups'])} backups, {len(removed['captures'])} capture tables"
        )


def cmd_restore_backup(command: BaseCommand, options: Options) -> None:
    _confirm(command, options, f"Restore backup #{options['backup']}?", required=True)
    backup = services.restore_backup(options["backup"], actor=audit.cli_actor())
    if options["json"]:
        rendering.write_json(command, {"backup": backup.pk, "restored_at": backup.restored_at})
    else:
        command.stdout.write(f"backup #{backup.pk} restored")
