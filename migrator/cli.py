"""Subcommand handlers of ``manage.py migrator``: thin adapters over :mod:`migrator.services`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from . import audit, services
from .conf import migrator_settings


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
