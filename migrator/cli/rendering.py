"""Text output of the ``migrator`` command (``--json`` output comes from services.serializers)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from ..dialects import split_statements
from ..schema.lint.registry import human_bytes


def write_json(command: BaseCommand, payload: Any) -> None:
    command.stdout.write(json.dumps(payload, indent=2, default=str))


def status(command: BaseCommand, report: dict[str, Any], verbosity: int) -> None:
    out, style = command.stdout, command.style
    for target in report["databases"]:
        out.write(style.MIGRATE_HEADING(f"Database {target['database']}"))
        out.write(
            f"  current version: {target['current_version'] or '(none)'}"
            f"   latest: {target['latest_version'] or '(none)'}"
        )
        marks = {
            "applied": style.SUCCESS("applied    "),
            "pending": style.WARNING("pending    "),
            "running": style.WARNING("running    "),
            "drifted": style.ERROR("DRIFTED    "),
            "missing": style.ERROR("MISSING    "),
            "unsupported": style.ERROR("UNSUPPORTED"),
            "callback": style.NOTICE("callback   "),
        }
        for m in target["migrations"]:
            if verbosity < 1 and m["state"] == "applied":
                continue
            notes = []
            if not m["reversible"] and not m.get("callback"):
                notes.append("irreversible")
            if m["baselined"]:
                notes.append("baselined")
            if m.get("marked_done"):
                notes.append("marked done")
            if m["out_of_order"]:
                notes.append("out of order")
            if m.get("callback"):
                notes.append(f"Flyway {m['callback']} callback: runs with each deployment")
            elif m.get("repeatable"):
                notes.append("repeatable")
            if m.get("unsupported"):
                notes.append(m["unsupported"])
            suffix = f"  ({', '.join(notes)})" if notes else ""
            out.write(
                f"  {marks.get(m['state'], m['state'])} {m['version']:<18} {m['name']:<32} "
                f"{m['format']:<8}{suffix}"
            )
        for d in target["deployments"]:
            out.write(
                f"  deployment #{d['id']} {d['direction']} → {d['goal_version'] or 'latest'} "
                f"[{d['status']}]"
            )
        if target["lock"]:
            lock = target["lock"]
            out.write(
                style.WARNING(
                    f"  locked by {lock['host']} pid {lock['pid']} (deployment {lock['deployment']})"
                )
            )
        if target.get("last_deployment"):
            last = target["last_deployment"]
            if last["status"] == "partially_rolled_back":
                out.write(
                    style.ERROR(
                        f"  deployment #{last['id']} was partially rolled back; still applied: "
                        f"{', '.join(last.get('still_applied') or []) or 'none'}"
                    )
                )
        out.write(
            f"  {len(target['applied'])} applied, {len(target['pending'])} pending, "
            f"{len(target['drifted'])} drifted, {len(target['missing'])} missing"
            + (f", {len(target['unsupported'])} unsupported" if target.get("unsupported") else "")
        )
    for warning in report["warnings"]:
        where = f"{warning['path']}:{warning['line']}" if warning.get("line") else warning["path"]
        out.write(style.WARNING(f"warning: {where}: {warning['message']}"))


def plan(command: BaseCommand, result: Any, vendor: str = "") -> None:
    out = command.stdout
    if not result.runs:
        out.write(f"{result.database}: nothing to do")
    for run in result.runs:
        arrow = "↑" if run.direction == "forward" else "↓"
        extra = []
        if run.restore_backup:
            extra.append(f"restore backup #{run.restore_backup}")
        if run.backup:
            extra.append("backup first")
        extra.append(f"way back: {run.way_back}")
        out.write(f"  {arrow} {run.version:<18} {run.name}  ({'; '.join(extra)})")
        for step in run.steps:
            if step.get("sql") is not None:
                statements = split_statements(vendor, step.get("sql") or "")
                detail = statements[0].sql if statements else "(nothing)"
                if len(statements) > 1:
                    detail += f"  (+{len(statements) - 1} more)"
            else:
                detail = step.get("callable") or step.get("spec") or ""
            first = detail.strip().splitlines()[0] if detail.strip() else ""
            out.write(f"      {step['order']}. {step['kind']:<9} {step['name']}: {first[:70]}")
    if result.direction == "forward" and result.runs:
        line = f"  rollback if it fails: {result.guarantee}"
        if result.uncovered:
            line += f" (may stop at {', '.join(result.uncovered)}: no way back)"
        out.write(line)
    for warning in result.warnings:
        out.write(command.style.WARNING(f"warning: {warning}"))


def dry_run(command: BaseCommand, report: dict[str, Any]) -> None:
    out, style = command.stdout, command.style
    for run in report["runs"]:
        out.write(style.MIGRATE_HEADING(f"{run['version']} {run['name']} ({run['direction']})"))
        for step in run["steps"]:
            if not step.get("executed"):
                out.write(f"  {step['order']}. {step['name']}: NOT EXECUTED ({step.get('reason')})")
                continue
            out.write(
                f"  {step['order']}. {step['kind']} {step['name']}: {step['rows']} rows, "
                f"{step['seconds']:.3f}s"
            )
            for st in step.get("statements", []):
                out.write(
                    f"       line {st['line']}: {st['sql'].splitlines()[0][:80]}  -> {st['rows']} rows"
                )
            for v in step.get("validations", []):
                out.write(f"       validation {'passed' if v['passed'] else 'FAILED'}")
            if step.get("error"):
                out.write(style.ERROR(f"       error: {step['error']}"))
        if run.get("error"):
            out.write(style.ERROR(f"  error: {run['error']}"))
    out.write(style.MIGRATE_HEADING("Schema changes"))
    for change in report.get("schema_diff", []):
        flag = style.ERROR(" BREAKING") if change["breaking"] else ""
        out.write(f"  {change['change']:<20} {change['table']}: {change['detail']}{flag}")
    if not report.get("schema_diff"):
        out.write("  (none)")


def story(command: BaseCommand, deployment: Any, events: list[dict[str, Any]]) -> None:
    command.stdout.write(str(deployment))
    for event in events:
        command.stdout.write(
            f"  {event['time']} {event['level']:<7} {event['actor']}: {event['message']}"
        )


def readiness(command: BaseCommand, checks: list[Any]) -> None:
    """``plan --readiness``: each pre-check, its count and up to ten example rows."""
    command.stdout.write("readiness on live data:")
    if not checks:
        command.stdout.write("  nothing to check")
    for check in checks:
        where = f"{check.version} {check.table}".strip()
        if check.error:
            mark = command.style.ERROR("?")
        elif check.ok:
            mark = command.style.SUCCESS("ok")
        else:
            mark = command.style.ERROR(f"{check.count:,}")
        command.stdout.write(f"  [{mark}] {where}: {check.what}")
        if check.error:
            command.stdout.write(f"      {check.error}")
        for row in check.examples:
            command.stdout.write(f"      e.g. {', '.join(row)}")


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"~{value:,.1f}s"


def estimate(command: BaseCommand, cost: Any) -> None:
    """``plan --readiness``: duration, locks, downtime, reversibility, rollback cost, disk."""
    runs = len(cost.runs)
    command.stdout.write("estimate:")
    basis = f" ({cost.estimated_runs} of {runs} migrations measured here before)"
    command.stdout.write(f"  duration: {_seconds(cost.seconds)}{basis if runs else ''}")
    for run in cost.runs:
        command.stdout.write(f"    {run['version']}: {_seconds(run['seconds'])}: {run['basis']}")
    for lock in cost.locks:
        size = "" if lock["table_rows"] is None else f", {lock['table_rows']:,} rows"
        command.stdout.write(
            f"  lock: {lock['lock']} on {lock['table']}{size}: blocks {lock['blocks']}, held up "
            f"to {_seconds(lock['held_up_to_seconds'])}"
        )
    if cost.downtime:
        for reason in cost.downtime:
            command.stdout.write(command.style.WARNING(f"  downtime: {reason}"))
    else:
        command.stdout.write("  downtime: none expected")
    way_back = cost.reversibility
    if cost.not_exact:
        way_back += f" (not exact: {', '.join(cost.not_exact)})"
    command.stdout.write(f"  way back: {way_back}")
    command.stdout.write(
        f"  rollback restores: {cost.rollback_rows:,} rows, {human_bytes(cost.rollback_bytes)}"
    )
    free = human_bytes(cost.disk_free_bytes)
    verdict = {True: "ok", False: "NOT ENOUGH", None: "cannot tell"}[cost.disk_ok]
    command.stdout.write(
        f"  disk: {human_bytes(cost.disk_needed_bytes)} for backups and captures, {free} free: "
        f"{verdict}"
    )
