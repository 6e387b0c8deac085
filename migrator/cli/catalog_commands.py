"""Handlers of the catalog subcommands: status, sync, verify, repair, baseline, mark-done,
create."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from .. import audit, services
from . import rendering
from .common import Options, database_of, verbosity

# -- the catalog ----------------------------------------------------------------------


def cmd_status(command: BaseCommand, options: Options) -> None:
    report = services.status(options.get("database"))
    if options["json"]:
        rendering.write_json(command, report)
    else:
        rendering.status(command, report, verbosity(options))


def cmd_sync(command: BaseCommand, options: Options) -> None:
    report = services.sync(actor=audit.cli_actor(), check=options["check"])
    if options["json"]:
        rendering.write_json(command, report.as_dict())
    elif verbosity(options):
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
        for warning in report.warnings:
            command.stdout.write(command.style.WARNING(f"warning: {warning}"))
    if options["check"] and report.changed:
        raise CommandError("the database is out of sync with the catalog", returncode=1)


def cmd_verify(command: BaseCommand, options: Options) -> None:
    problems, warnings = services.verify(options.get("database"), with_warnings=True)
    if options["json"]:
        rendering.write_json(
            command, {"ok": not problems, "problems": problems, "warnings": warnings}
        )
    else:
        for warning in warnings:
            command.stdout.write(command.style.WARNING(f"warning: {warning}"))
        if not problems and verbosity(options):
            command.stdout.write(command.style.SUCCESS("All applied migrations match their files."))
    if problems:
        raise CommandError("\n".join(problems), returncode=1)


def cmd_repair(command: BaseCommand, options: Options) -> None:
    repaired = services.repair(
        actor=audit.cli_actor(),
        reason=options["reason"],
        database=options.get("database"),
        versions=options["versions"] or None,
    )
    if options["json"]:
        rendering.write_json(command, {"repaired": repaired})
    else:
        command.stdout.write(
            f"repaired {len(repaired)}: {', '.join(repaired) or 'nothing drifted'}"
        )


def cmd_baseline(command: BaseCommand, options: Options) -> None:
    database = database_of(options)
    marked = services.baseline(
        version=options["baseline_version"], actor=audit.cli_actor(), database=database
    )
    if options["json"]:
        rendering.write_json(command, {"database": database, "marked": marked})
    else:
        command.stdout.write(f"{database}: marked {len(marked)} applied: {', '.join(marked)}")


def cmd_mark_done(command: BaseCommand, options: Options) -> None:
    database = database_of(options)
    marked = services.mark_done(
        database, options["versions"], actor=audit.cli_actor(), reason=options["reason"]
    )
    if options["json"]:
        rendering.write_json(command, {"database": database, "marked": marked})
    else:
        command.stdout.write(f"{database}: marked done: {', '.join(marked)}")


def cmd_create(command: BaseCommand, options: Options) -> None:
    paths = services.create(
        name=options["name"],
        fmt=options["fmt"],
        database=options.get("database"),
        directory=options.get("directory"),
    )
    if options["json"]:
        rendering.write_json(command, {"files": [str(p) for p in paths]})
    else:
        for path in paths:
            command.stdout.write(f"created {path}")
