"""Subcommand handlers of ``manage.py migrator``: thin adapters over :mod:`migrator.services`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from . import audit, services
from .conf import migrator_settings
from .engine.sql import split


def _json(command: BaseCommand, payload: Any) -> None:
    command.stdout.write(json.dumps(payload, indent=2, default=str))


def cmd_status(command: BaseCommand, options: dict[str, Any]) -> None:
    report = services.status(options.get("database"))
    if options["json"]:
        _json(command, report)
        return
    out = command.stdout
    for target in report["databases"]:
        out.write(command.style.MIGRATE_HEADING(f"Database {target['database']}"))
        out.write(
            f"  current version: {target['current_version'] or '(none)'}"
            f"   latest: {target['latest_version'] or '(none)'}"
        )
        for m in target["migrations"]:
            mark = {
                "applied": command.style.SUCCESS("applied "),
                "pending": command.style.WARNING("pending "),
                "drifted": command.style.ERROR("DRIFTED "),
                "missing": command.style.ERROR("MISSING "),
            }[m["state"]]
            notes = []
            if not m["reversible"]:
                notes.append("irreversible")
            if m["baselined"]:
                notes.append("baselined")
            if m["out_of_order"]:
                notes.append("out of order")
            suffix = f"  ({', '.join(notes)})" if notes else ""
            out.write(f"  {mark} {m['version']:<16} {m['name']:<32} {m['format']:<8}{suffix}")
        for d in target["deployments"]:
            out.write(
                f"  deployment #{d['id']} {d['direction']} → {d['goal_version']} [{d['status']}]"
            )
        if target["lock"]:
            lock = target["lock"]
            out.write(
                command.style.WARNING(
                    f"  locked by {lock['host']} pid {lock['pid']} (deployment {lock['deployment']})"
                )
            )
        summary = (
            f"  {len(target['applied'])} applied, {len(target['pending'])} pending, "
            f"{len(target['drifted'])} drifted, {len(target['missing'])} missing"
        )
        out.write(summary)
    for warning in report["warnings"]:
        out.write(command.style.WARNING(f"warning: {warning['path']}: {warning['message']}"))


def cmd_sync(command: BaseCommand, options: dict[str, Any]) -> None:
    report = services.sync(actor=audit.cli_actor(), check=options["check"])
    if options["json"]:
        _json(command, report.as_dict())
    else:
        verb = "would change" if options["check"] else "synced"
        command.stdout.write(
            f"{verb}: {len(report.created)} new, {len(report.updated)} updated, "
            f"{len(report.missing)} gone from disk, {report.unchanged} unchanged"
        )
        for label in report.created:
            command.stdout.write(f"  + {label}")
        for label in report.updated:
            command.stdout.write(f"  ~ {label}")
        for label in report.missing:
            command.stdout.write(f"  - {label}")
    if options["check"] and report.changed:
        raise CommandError("the database is out of sync with the catalog", returncode=1)


def cmd_verify(command: BaseCommand, options: dict[str, Any]) -> None:
    problems = services.verify(options.get("database"))
    if options["json"]:
        _json(command, {"ok": not problems, "problems": problems})
    elif not problems:
        command.stdout.write(command.style.SUCCESS("All applied migrations match their files."))
    if problems:
        raise CommandError("\n".join(problems), returncode=1)


def cmd_repair(command: BaseCommand, options: dict[str, Any]) -> None:
    repaired = services.repair(
        actor=audit.cli_actor(),
        reason=options["reason"],
        database=options.get("database"),
        versions=options["versions"] or None,
    )
    if options["json"]:
        _json(command, {"repaired": repaired})
    else:
        command.stdout.write(
            f"repaired {len(repaired)}: {', '.join(repaired) or 'nothing drifted'}"
        )


def cmd_baseline(command: BaseCommand, options: dict[str, Any]) -> None:
    database = options.get("database") or migrator_settings.DEFAULT_DATABASE
    marked = services.baseline(
        version=options["baseline_version"], actor=audit.cli_actor(), database=database
    )
    if options["json"]:
        _json(command, {"database": database, "marked": marked})
    else:
        command.stdout.write(f"{database}: marked {len(marked)} applied: {', '.join(marked)}")


def cmd_create(command: BaseCommand, options: dict[str, Any]) -> None:
    paths = services.create(
        name=options["name"],
        fmt=options["fmt"],
        database=options.get("database"),
        directory=options.get("directory"),
    )
    if options["json"]:
        _json(command, {"files": [str(p) for p in paths]})
    else:
        for path in paths:
            command.stdout.write(f"created {path}")


def add_deployment_subcommands(add: Callable[..., Any]) -> None:
    """Subcommands that move targets (apply, rollback, ...); see :mod:`migrator.engine`."""
    from .conf import BACKENDS, BACKUP_MODES

    def moving(p: Any) -> None:
        p.add_argument("--database", default=None, help="Target alias (default: DEFAULT_DATABASE).")
        p.add_argument(
            "--dry-run", action="store_true", help="Run inside a transaction, roll back, report."
        )
        p.add_argument(
            "--async",
            action="store_true",
            dest="async_",
            help="Queue it and return at once (rq or celery backend).",
        )
        p.add_argument(
            "--backend",
            choices=BACKENDS,
            help="Job backend (default: inline, or BACKEND with --async).",
        )
        p.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    p = add("plan", "Show what apply (or rollback) would run, after the preflight checks.")
    p.add_argument("--database", default=None)
    p.add_argument("--to", dest="to_version")
    p.add_argument("--rollback", action="store_true", help="Plan a rollback instead.")
    p.add_argument("--steps", type=int, help="With --rollback: how many migrations.")

    p = add("apply", "Apply pending migrations, up to --to (default: all).")
    p.add_argument("--to", dest="to_version")
    moving(p)
    p.add_argument("--backup", choices=BACKUP_MODES, help="Back up tables before each migration.")
    p.add_argument(
        "--no-auto-rollback", action="store_true", help="On failure, stop without undoing."
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
        ("show", "A deployment's runs and its full story, in order."),
    ):
        p = add(name, text)
        p.add_argument("deployment", type=int)
        if name in ("resume", "cancel"):
            p.add_argument("--async", action="store_true", dest="async_")
            p.add_argument("--backend", choices=BACKENDS)

    add("recover", "Mark runs whose worker died (stale heartbeat) as interrupted.")
    p = add("unlock", "Remove a stale target lock (audited).")
    p.add_argument("--database", default=None)
    p.add_argument("--force", action="store_true", help="Even if its heartbeat is fresh.")
    p = add("prune", "Remove old backups and the captured values of rolled-back runs.")
    p.add_argument("--keep", type=int, default=5, help="Backups to keep per database (default 5).")


# -- moving targets -------------------------------------------------------------------


def _database(options: dict[str, Any]) -> str:
    return str(options.get("database") or migrator_settings.DEFAULT_DATABASE)


def _print_plan(command: BaseCommand, plan: services.Plan) -> None:
    out = command.stdout
    if not plan.runs:
        out.write(f"{plan.database}: nothing to do")
    for run in plan.runs:
        arrow = "↑" if run.direction == "forward" else "↓"
        backup = f"  (restore backup #{run.restore_backup})" if run.restore_backup else ""
        out.write(f"  {arrow} {run.version:<16} {run.name}{backup}")
        for step in run.steps:
            if step["kind"] in ("sql", "validate"):
                statements = split(step.get("sql") or "")
                detail = statements[0].sql if statements else "(nothing)"
                if len(statements) > 1:
                    detail += f"  (+{len(statements) - 1} more)"
            else:
                detail = step.get("callable") or step.get("spec") or ""
            first = detail.strip().splitlines()[0] if detail.strip() else ""
            out.write(f"      {step['order']}. {step['kind']:<9} {step['name']}: {first[:70]}")
    for warning in plan.warnings:
        out.write(command.style.WARNING(f"warning: {warning}"))


def cmd_plan(command: BaseCommand, options: dict[str, Any]) -> None:
    result = services.plan(
        _database(options),
        to=options.get("to_version"),
        direction="backward" if options["rollback"] else "forward",
        count=options.get("steps"),
    )
    if options["json"]:
        _json(command, result.as_dict())
    else:
        _print_plan(command, result)


def _confirm(command: BaseCommand, options: dict[str, Any], question: str, required: bool) -> None:
    import sys

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


def _params(raw: list[str]) -> dict[str, str]:
    params = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {item!r} must be KEY=VALUE", returncode=2)
        params[key] = value
    return params


def _backend(options: dict[str, Any]) -> str:
    if options.get("backend"):
        return str(options["backend"])
    if options.get("async_"):
        return migrator_settings.BACKEND
    return "inline"


def _follow(command: BaseCommand, deployment: Any, options: dict[str, Any]) -> None:
    """Wait for the deployment (unless --async), then report; exit 1 unless it succeeded."""
    from .states import Status

    backend = _backend(options)
    if options.get("async_"):
        from .backends import get_backend

        if not get_backend(backend).detached:
            raise CommandError(
                f"--async needs a queue backend (rq or celery), not {backend!r}", returncode=2
            )
    elif deployment.status not in (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.ROLLED_BACK,
        Status.CANCELLED,
    ):
        deployment = services.wait(deployment.pk)
    _report(command, deployment, options)


def _report(command: BaseCommand, deployment: Any, options: dict[str, Any]) -> None:
    from .states import Status

    deployment.refresh_from_db()
    runs = list(deployment.runs.select_related("migration").order_by("order"))
    if options.get("json"):
        _json(
            command,
            {
                "deployment": deployment.pk,
                "database": deployment.database,
                "status": deployment.status,
                "dry_run": deployment.dry_run,
                "error": deployment.error or None,
                "runs": [
                    {
                        "version": r.migration.version,
                        "direction": r.direction,
                        "status": r.status,
                        "rows_done": r.rows_done,
                        "error": r.error or None,
                    }
                    for r in runs
                ],
                "report": deployment.report or None,
            },
        )
    else:
        if deployment.dry_run and deployment.report:
            _print_dry_run(command, deployment.report)
        style = (
            command.style.SUCCESS if deployment.status == Status.SUCCEEDED else command.style.ERROR
        )
        command.stdout.write(
            style(
                f"deployment #{deployment.pk} {deployment.status}"
                f"{' (dry run, rolled back)' if deployment.dry_run else ''}"
            )
        )
    queued = deployment.status in (Status.QUEUED, Status.RUNNING) and options.get("async_")
    if deployment.status != Status.SUCCEEDED and not queued:
        reason = deployment.error or f"deployment #{deployment.pk} is {deployment.status}"
        raise CommandError(reason, returncode=1)


def _print_dry_run(command: BaseCommand, report: dict[str, Any]) -> None:
    out = command.stdout
    for run in report["runs"]:
        out.write(
            command.style.MIGRATE_HEADING(f"{run['version']} {run['name']} ({run['direction']})")
        )
        for step in run["steps"]:
            if not step.get("executed"):
                out.write(f"  {step['order']}. {step['name']}: NOT EXECUTED ({step.get('reason')})")
                continue
            out.write(
                f"  {step['order']}. {step['kind']} {step['name']}: {step['rows']} rows, {step['seconds']:.3f}s"
            )
            for st in step.get("statements", []):
                out.write(
                    f"       line {st['line']}: {st['sql'].splitlines()[0][:80]}  -> {st['rows']} rows"
                )
            for v in step.get("validations", []):
                out.write(f"       validation {'passed' if v['passed'] else 'FAILED'}")
        if run.get("error"):
            out.write(command.style.ERROR(f"  error: {run['error']}"))
    out.write(command.style.MIGRATE_HEADING("Schema changes"))
    for change in report.get("schema_diff", []):
        flag = command.style.ERROR(" BREAKING") if change["breaking"] else ""
        out.write(f"  {change['change']:<20} {change['table']}: {change['detail']}{flag}")
    if not report.get("schema_diff"):
        out.write("  (none)")


def _run_with_progress(
    command: BaseCommand, options: dict[str, Any], start: Callable[[], Any]
) -> Any:
    """Start a deployment; with the inline backend, draw progress while it runs here."""
    from .cli_progress import reporter_for
    from .engine.progress import reporting

    if _backend(options) != "inline" or options.get("json"):
        return start()
    reporter = reporter_for(command.stdout)
    try:
        with reporting(reporter):
            return start()
    finally:
        reporter.close()


def _check_backend(options: dict[str, Any]) -> None:
    """Refuse --async with a backend whose jobs die with this process, before any work."""
    from .backends import get_backend

    backend = _backend(options)
    if options.get("async_") and not get_backend(backend).detached:
        raise CommandError(
            f"--async needs a queue backend (rq or celery), not {backend!r}", returncode=2
        )


def cmd_apply(command: BaseCommand, options: dict[str, Any]) -> None:
    database = _database(options)
    params = _params(options["param"])
    _check_backend(options)
    if not options["json"] and not options["dry_run"]:
        preview = services.plan(database, to=options.get("to_version"))
        _print_plan(command, preview)
        if not preview.runs:
            return
        _confirm(
            command, options, f"Apply {len(preview.runs)} migrations to {database}?", required=False
        )
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
            params=params,
        ),
    )
    _follow(command, deployment, options)


def cmd_rollback(command: BaseCommand, options: dict[str, Any]) -> None:
    database = _database(options)
    _check_backend(options)
    to, count = options.get("to_version"), options.get("steps")
    if not options["dry_run"]:
        preview = services.plan(database, to=to, direction="backward", count=count)
        if not options["json"]:
            _print_plan(command, preview)
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


def cmd_pause(command: BaseCommand, options: dict[str, Any]) -> None:
    deployment = services.pause(options["deployment"], actor=audit.cli_actor())
    _control_output(command, options, deployment, "pause requested")


def cmd_resume(command: BaseCommand, options: dict[str, Any]) -> None:
    _check_backend(options)
    deployment = _run_with_progress(
        command,
        options,
        lambda: services.resume(
            options["deployment"], actor=audit.cli_actor(), backend=_backend(options)
        ),
    )
    _follow(command, deployment, options)


def cmd_cancel(command: BaseCommand, options: dict[str, Any]) -> None:
    deployment = services.cancel(
        options["deployment"], actor=audit.cli_actor(), backend=options.get("backend") or None
    )
    _control_output(command, options, deployment, "cancel requested")


def _control_output(
    command: BaseCommand, options: dict[str, Any], deployment: Any, what: str
) -> None:
    if options["json"]:
        _json(command, {"deployment": deployment.pk, "status": deployment.status})
    else:
        command.stdout.write(f"deployment #{deployment.pk}: {what} (now {deployment.status})")


def cmd_show(command: BaseCommand, options: dict[str, Any]) -> None:
    from .engine.runner import run_story
    from .models import Deployment

    try:
        deployment = Deployment.objects.get(pk=options["deployment"])
    except Deployment.DoesNotExist:
        raise CommandError(f"no deployment #{options['deployment']}", returncode=2) from None
    story = run_story(deployment)
    if options["json"]:
        _json(command, {"deployment": deployment.pk, "status": deployment.status, "events": story})
        return
    command.stdout.write(str(deployment))
    for event in story:
        command.stdout.write(
            f"  {event['time']} {event['level']:<7} {event['actor']}: {event['message']}"
        )


def cmd_recover(command: BaseCommand, options: dict[str, Any]) -> None:
    recovered = services.recover(actor=audit.cli_actor())
    if options["json"]:
        _json(command, {"interrupted": recovered})
    else:
        command.stdout.write(f"interrupted: {recovered or 'none'}")


def cmd_unlock(command: BaseCommand, options: dict[str, Any]) -> None:
    removed = services.unlock(_database(options), actor=audit.cli_actor(), force=options["force"])
    if options["json"]:
        _json(command, {"removed": removed})
    else:
        command.stdout.write("lock removed" if removed else "no lock")


def cmd_prune(command: BaseCommand, options: dict[str, Any]) -> None:
    removed = services.prune(actor=audit.cli_actor(), keep=options["keep"])
    if options["json"]:
        _json(command, removed)
    else:
        command.stdout.write(
            f"removed {len(removed['backups'])} backups, {len(removed['captures'])} capture tables"
        )
