"""Schema intelligence on the command line: ``lint`` (findings as text, JSON or GitHub
workflow annotations), ``diff`` and ``compat`` (compatibility of recorded versions)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from .. import services
from ..schema.lint import Finding
from ..services import compat
from . import rendering
from .common import Options, database_of, verbosity


def cmd_lint(command: BaseCommand, options: Options) -> None:
    output = "json" if options.get("json") else options["output"]
    if options["list_checks"]:
        _list_checks(command, output)
        return
    report = services.lint(
        path=options.get("path"),
        database=options.get("database"),
        pending=options["pending"],
        vendor=options.get("dialect"),
    )
    if output == "json":
        rendering.write_json(command, report.as_dict())
    elif output == "github":
        for finding in report.findings:
            if finding.suppressed is None:
                command.stdout.write(_annotation(finding))
    else:
        _text(command, report, verbosity(options))
    if report.blocking:
        raise CommandError(
            f"{len(report.blocking)} blocking finding(s) "
            f"(severities {', '.join(report.blocking_severities)}: MIGRATOR['LINT_BLOCKING'])",
            returncode=1,
        )


def _text(command: BaseCommand, report: services.LintReport, level: int) -> None:
    for finding in report.findings:
        if finding.suppressed is not None and level < 2:
            continue
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        style = {"error": command.style.ERROR, "warning": command.style.WARNING}.get(
            finding.severity, str
        )
        label = f"{finding.check.id} {finding.severity} {finding.check.name}"
        tail = f" (ignored: {finding.suppressed})" if finding.suppressed else ""
        command.stdout.write(f"{where}: {style(label)}: {finding.message}{tail}")
        if finding.lock:
            command.stdout.write(f"    {finding.lock_text()}")
        if finding.downgraded:
            command.stdout.write(
                f"    {finding.check.severity} counted as info: {finding.downgraded}"
            )
        if level >= 1 and finding.suppressed is None:
            command.stdout.write(f"    instead: {finding.check.safe_alternative}")
    if level:
        counts = report.as_dict()["counts"]
        summary = ", ".join(f"{n} {severity}" for severity, n in sorted(counts.items()))
        command.stdout.write(f"{report.migrations} migrations checked: {summary or 'clean'}")


def _annotation(finding: Finding) -> str:
    """One GitHub Actions workflow command (``::warning file=...,line=...::message``), the
    file relative to the working directory (the repository's root in a workflow)."""
    level = {"error": "error", "warning": "warning"}.get(finding.severity, "notice")
    path = Path(finding.file)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    where = f"file={path}" + (f",line={finding.line}" if finding.line else "")
    message = f"{finding.check.id} {finding.check.title}: {finding.message}"
    if finding.lock:
        message += f" ({finding.lock_text()})"
    message = message.replace("\n", " ")
    return f"::{level} {where},title={finding.check.id} {finding.check.name}::{message}"


def _list_checks(command: BaseCommand, output: str) -> None:
    checks = services.list_checks()
    if output == "json":
        rendering.write_json(command, {"checks": checks})
        return
    for check in checks:
        squawk = f" (squawk: {check['squawk']})" if check["squawk"] else ""
        command.stdout.write(
            f"{check['id']} {check['severity']:<7} {check['name']}: {check['title']}{squawk}"
        )


def cmd_diff(command: BaseCommand, options: Options) -> None:
    data = compat.diff(database_of(options), options["from_version"], options["to_version"])
    if options["json"]:
        rendering.write_json(command, data)
        return
    command.stdout.write(f"{data['from']} → {data['to']} on {data['database']}: {data['level']}")
    for change in data["changes"]:
        marks = ("" if change["backward"] else " ✗backward") + (
            "" if change["forward"] else " ✗forward"
        )
        command.stdout.write(f"  {change['change']:<22} {change['detail']}{marks}")


def cmd_compat(command: BaseCommand, options: Options) -> None:
    data = compat.matrix(
        database_of(options),
        options.get("from_version"),
        options.get("to_version"),
        by_release=options.get("by_release", False),
    )
    if options["json"]:
        rendering.write_json(command, data)
    elif options["csv"]:
        command.stdout.write(compat.matrix_csv(data), ending="")
    elif not data["pairs"]:
        # Schema versions are recorded by deployments (and baselines): two are needed.
        command.stdout.write(
            f"{data['database']}: no two schema versions to "
            "compare yet: each deployment records one when it finishes"
        )
    else:
        for pair in data["pairs"]:
            command.stdout.write(
                f"{pair['from']:>12} → {pair['to']:<12} {pair['level']:<9} "
                f"(transitive {pair['transitive']}, {pair['hops']} hop(s), "
                f"{pair['migration']} migration)"
            )
            for change in pair["breaking"]:
                command.stdout.write(f"{'':>16}{change}")


def cmd_path(command: BaseCommand, options: Options) -> None:
    data = services.path(database_of(options), options.get("to_version"))
    if options["json"]:
        rendering.write_json(command, data)
        return
    total = data["estimate_seconds"]
    estimate = "unknown" if total is None else f"about {total:,.1f} s"
    command.stdout.write(
        f"{data['database']}: {data['from'] or '(nothing)'} → {data['to']} "
        f"({data['direction']}, {len(data['hops'])} hop(s), {estimate}, risk {data['risk']}"
        f"{', needs downtime' if data['downtime'] else ''}, "
        f"{'exact' if data['exact'] else 'not exact'} way back)"
    )
    for hop in data["hops"]:
        seconds = hop["estimate_seconds"]
        when = "?" if seconds is None else f"{seconds:,.1f} s"
        level = f", {hop['level']}" if hop["level"] else ""
        command.stdout.write(
            f"  {hop['version']:<12} {hop['name']:<28} {when:>10}  {hop['way_back']}{level}"
        )
        if hop["stop"]:
            command.stdout.write(command.style.WARNING(f"      STOP: {hop['stop']}"))
