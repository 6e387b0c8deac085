"""One deployment: live state, runs and steps, the event timeline, the failure, the report;
and the controls (Pause, Resume, Cancel, Retry, Approve, Reject) behind confirmations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods

from ...models import Deployment
from ...states import ACTIVE, FINISHED, UNFINISHED, Status
from ...templatetags.migrator_console import when
from . import access
from .common import attempt, page, to_deployment

if TYPE_CHECKING:
    from ... import services
else:
    from .deferred import services

#: Events shown on the page (newest first); the event list has them all.
TIMELINE = 200

#: What each control does, said on its confirmation page.
CONTROLS: dict[str, tuple[str, str]] = {
    "pause": (
        "Pause",
        "The worker stops at its next commit point (after the batch or step in progress); "
        "what is done stays done, and Resume continues from there.",
    ),
    "resume": (
        "Resume",
        "Queued again; it continues from its checkpoint: finished steps and committed "
        "batches are not repeated.",
    ),
    "cancel": (
        "Cancel",
        "Stops the deployment for good. A deployment that has not started ends at once; a "
        "running one stops at its next commit point and the migration it was in the middle "
        "of is undone.",
    ),
    "retry": (
        "Retry",
        "A failed or interrupted deployment continues from the step that stopped; a "
        "finished one is planned again with the same goal and options (a new deployment).",
    ),
    "approve": ("Approve", "The deployment is queued and runs; you are recorded as approver."),
    "reject": ("Reject", "The deployment is cancelled without running; the reason is recorded."),
}


def controls(deployment: Deployment) -> list[str]:
    """The controls that apply to the deployment in its current state."""
    status = deployment.status
    found = []
    if status in (Status.QUEUED, Status.RUNNING) and not deployment.options.get("atomic"):
        found.append("pause")
    if status in (Status.PAUSED, Status.INTERRUPTED) or (
        status == Status.FAILED and not deployment.dry_run
    ):
        found.append("resume")
    if status not in FINISHED and status != Status.AWAITING_APPROVAL:
        found.append("cancel")
    # A succeeded deployment has nothing to retry (a dry run can be run again).
    if status in FINISHED and (status != Status.SUCCEEDED or deployment.dry_run):
        found.append("retry")
    if status == Status.AWAITING_APPROVAL:
        found += ["approve", "reject"]
    return found


@require_GET
def deployment_page(request: HttpRequest, deployment_id: int) -> HttpResponse:
    access.require_view(request)
    deployment = get_object_or_404(
        Deployment.objects.select_related("requested_by_user"), pk=deployment_id
    )
    runs = list(
        deployment.runs.select_related("migration").prefetch_related("step_runs").order_by("order")
    )
    events = list(deployment.events.order_by("-time", "-pk")[:TIMELINE])
    live = deployment.status in UNFINISHED
    if not live:
        # The snapshot describes the last step; once it has ended, the whole deployment.
        deployment.progress = {
            **(deployment.progress or {}),
            "done": sum(run.rows_done for run in runs),
            "total": None,
            "rate": None,
            "eta_seconds": None,
        }
    deployment.percent = (  # type: ignore[attr-defined]
        100 if deployment.status == Status.SUCCEEDED else percent(deployment.progress or {})
    )
    context: dict[str, Any] = {
        "deployment": deployment,
        "runs": runs,
        "events": events,
        "controls": [
            (name, *CONTROLS[name])
            for name in controls(deployment)
            # The requester cannot approve her own deployment (the service refuses it).
            if not (name == "approve" and deployment.requested_by_user_id == request.user.pk)
        ],
        "live": live,
        "progress": deployment.progress or {},
        "failure": deployment.failure or None,
        "report": deployment.report or {},
        "plan": deployment.plan or {},
        "backups": list(deployment.backups.order_by("pk")),
    }
    template = "deployment_live.html" if request.GET.get("fragment") else "deployment.html"
    kind = "Dry run" if deployment.dry_run else "Deployment"
    return page(request, template, f"{kind} #{deployment.pk}", context)


@require_GET
def progress(request: HttpRequest, deployment_id: int) -> JsonResponse:
    """What a live page polls: one query (the deployment row and its snapshot, which
    carries the newest events)."""
    access.require_view(request)
    row = (
        Deployment.objects.filter(pk=deployment_id)
        .values("status", "phase", "progress", "heartbeat_at", "error", "dry_run")
        .first()
    )
    if row is None:
        raise Http404("no such deployment")
    snapshot = dict(row["progress"] or {})
    # Times as the server renders them everywhere else (its time zone, to the second).
    snapshot["events"] = [{**e, "when": when(e.get("time"))} for e in snapshot.get("events", [])]
    return JsonResponse(
        {
            "status": row["status"],
            "status_display": Status(row["status"]).label,
            "finished": row["status"] not in UNFINISHED,
            "active": row["status"] in ACTIVE,
            "phase": row["phase"],
            "error": row["error"] or None,
            "dry_run": row["dry_run"],
            "heartbeat_at": row["heartbeat_at"].isoformat() if row["heartbeat_at"] else None,
            "progress": snapshot,
            "percent": percent(snapshot),
        }
    )


def percent(snapshot: dict[str, Any]) -> float | None:
    """How far the deployment is: runs done, plus the current step's share of its run."""
    total_runs = snapshot.get("runs_total") or 0
    if not total_runs:
        return None
    done = float(snapshot.get("runs_done") or 0)
    total, rows = snapshot.get("total"), snapshot.get("done") or 0
    if total:
        done += min(rows / total, 1.0) * 0.999
    return round(min(done / total_runs, 1.0) * 100, 1)


@require_GET
def report_json(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """The deployment as ``apply --json`` prints it, with its report and story: a download."""
    access.require_view(request)
    deployment = get_object_or_404(Deployment, pk=deployment_id)
    from ...services.serializers import deployment_dict, story

    data = deployment_dict(deployment, with_steps=True)
    data["events"] = story(deployment)
    response = HttpResponse(
        json.dumps(data, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="deployment-{deployment.pk}.json"'
    return response


@require_http_methods(["GET", "POST"])
def control(request: HttpRequest, deployment_id: int, action: str) -> HttpResponse:
    """A control's confirmation (GET) and the control itself (POST)."""
    if action not in CONTROLS:
        raise Http404(f"no action {action!r}")
    access.require_view(request)
    access.require(request, action)
    deployment = get_object_or_404(Deployment, pk=deployment_id)
    label, what = CONTROLS[action]
    if request.method == "POST":
        actor, user_id = access.actor(request)
        if action == "reject":
            reason = request.POST.get("reason", "").strip()
            if not reason:
                messages.error(request, "Rejecting needs a reason.")
                return to_deployment(deployment.pk)
            result = attempt(
                request,
                lambda: services.reject(deployment.pk, actor=actor, user_id=user_id, reason=reason),
            )
        else:
            call = getattr(services, action)
            result = attempt(request, lambda: call(deployment.pk, actor=actor, user_id=user_id))
        if result is not None:
            messages.success(
                request, f"{label}: deployment #{result.pk} is {result.get_status_display()}."
            )
            return to_deployment(result.pk)
        return to_deployment(deployment.pk)
    refused = ""
    if action not in controls(deployment):
        refused = f"Deployment #{deployment.pk} is {deployment.get_status_display()}: {label} does not apply."
    return page(
        request,
        "control.html",
        f"{label} deployment #{deployment.pk}",
        {
            "deployment": deployment,
            "action": action,
            "label": label,
            "what": what,
            "refused": refused,
            "reason_field": action == "reject",
        },
    )
