"""Execution state: deployments, runs, step runs, events, backups and target locks.

Only the engine and the services write these rows (the admin shows them read-only).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..states import Status
from .history import AuditHistory

_VALID_STATUS = models.Q(status__in=[s.value for s in Status])


class Direction(models.TextChoices):
    FORWARD = "forward"
    BACKWARD = "backward"


class Phase(models.TextChoices):
    """What a worker that picks the deployment up must do."""

    WORK = "work", "run its migrations"
    UNDO = "undo", "automatic rollback"
    CANCEL = "cancel", "cancel and undo the migration in progress"


class Deployment(models.Model):
    """One request to move a target: apply up to X, roll back to Y, or a dry run."""

    database = models.CharField(max_length=100, default="default")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    goal_version = models.CharField(max_length=100, blank=True)
    requested_by = models.CharField(max_length=150)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The admin user who asked for it (also the history user of its rows).",
    )
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=25, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.WORK)
    risk = models.CharField(max_length=10, blank=True)
    backend = models.CharField(max_length=200, blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    options = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(default=dict, blank=True, help_text="The plan it was created from.")
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    failure = models.JSONField(
        default=dict,
        blank=True,
        help_text="Where it failed: version, step, statement, line, message, traceback.",
    )
    progress = models.JSONField(
        default=dict, blank=True, help_text="Live snapshot written by the worker's heartbeat."
    )
    pause_requested = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=300, blank=True, help_text="host:pid of its worker.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The plan is written once, the report at the end (a dry run's findings, or what an
    # automatic rollback left applied, which its event also says): a copy of them
    # (hundreds of kilobytes for a big deployment) in every history row would be the
    # largest part of each status change.
    history = AuditHistory(
        excluded_fields=["progress", "heartbeat_at", "plan", "report"],
        no_db_index=["requested_by_user", "created_at"],
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["database", "status"], name="migrator_dep_db_status")]
        permissions = [
            ("apply", "Can apply migrations and dry-run them"),
            ("rollback", "Can roll migrations back"),
            ("control", "Can pause, resume, cancel and retry deployments"),
            ("manage_target", "Can sync, repair, recover, unlock and restore backups"),
            ("approve", "Can approve deployments that wait for approval"),
            ("override_lint", "Can apply despite blocking lint findings"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_VALID_STATUS, name="migrator_deployment_valid_status"
            ),
            models.CheckConstraint(
                condition=models.Q(direction__in=["forward", "backward"]),
                name="migrator_deployment_valid_direction",
            ),
        ]

    def __str__(self) -> str:
        goal = self.goal_version or "latest"
        dry = " (dry run)" if self.dry_run else ""
        return f"#{self.pk} {self.direction} {self.database} → {goal}{dry} [{self.status}]"

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now, while it runs)."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        """Reload what may have changed: everything but the plan, which is written once
        (a plan held in memory is kept, one not loaded is loaded when asked for). Every
        service and the worker refresh: reading it again decoded half a megabyte of JSON
        per refresh for a thousand migrations."""
        if fields is None and from_queryset is None:
            from_queryset = (
                type(self)._base_manager.db_manager(using, hints={"instance": self}).defer("plan")
            )
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)


class Run(models.Model):
    """One migration executed in one direction inside a deployment."""

    # Indexed by the unique (deployment, order) constraint it leads.
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    migration = models.ForeignKey(
        "migrator.Migration", on_delete=models.PROTECT, related_name="runs"
    )
    order = models.PositiveIntegerField()
    direction = models.CharField(max_length=10, choices=Direction.choices)
    status = models.CharField(max_length=25, choices=Status.choices, default=Status.PENDING)
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # History rows are read per object (by ``id``): indexes on their other keys only
    # slow down every write of an audit row.
    history = AuditHistory(no_db_index=["deployment", "migration"])

    class Meta:
        ordering = ["deployment", "order"]
        constraints = [
            models.CheckConstraint(condition=_VALID_STATUS, name="migrator_run_valid_status"),
            models.UniqueConstraint(
                fields=["deployment", "order"], name="migrator_run_unique_order"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.migration.version} {self.direction} [{self.status}]"

    @property
    def progress(self) -> float | None:
        """Fraction done, when a total is known."""
        if not self.rows_total:
            return None
        return min(1.0, self.rows_done / self.rows_total)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class StepRun(models.Model):
    """Execution state of one step within a run."""

    # Indexed by the unique (run, order) constraint it leads.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs", db_index=False)
    # The catalog step it ran, by key only: a database constraint would lock that catalog
    # row at every commit of a step (and the catalog changes; ``on_delete`` still applies).
    # Nothing looks step runs up by step: no index (a step deleted by a sync clears its key
    # in the step runs by a scan).
    step = models.ForeignKey(
        "migrator.Step",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="step_runs",
        db_index=False,
        db_constraint=False,
    )
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    order = models.PositiveIntegerField(help_text="Position in this run (backward runs reverse).")
    step_order = models.PositiveIntegerField(
        default=0, help_text="Position of the step in its migration (forward order)."
    )
    status = models.CharField(max_length=25, choices=Status.choices, default=Status.PENDING)
    rows_affected = models.BigIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "order"]
        constraints = [
            models.CheckConstraint(condition=_VALID_STATUS, name="migrator_steprun_valid_status"),
            models.UniqueConstraint(fields=["run", "order"], name="migrator_steprun_unique_order"),
        ]

    def __str__(self) -> str:
        return f"step {self.order} {self.name} [{self.status}]"

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Event(models.Model):
    """Append-only audit line: who did what, when, to which deployment, run or step."""

    class Level(models.TextChoices):
        DEBUG = "debug"
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    time = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    action = models.CharField(max_length=50)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=150)
    database = models.CharField(max_length=100, blank=True)
    # What an event names is kept by key, without a database constraint: a line of the
    # audit log is written by every step of every migration, and checking three foreign
    # keys per line at each commit cost more than writing it. (Deleting through Django
    # still clears the keys, as ``on_delete`` says.)
    # The deployment is indexed with the time below (a deployment's events in order); its
    # own index would only cost every one of the many writes.
    deployment = models.ForeignKey(
        Deployment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    # Not indexed either: events are read by deployment and time, never by run or step
    # run (deleting one clears its key here by a scan).
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    step_run = models.ForeignKey(
        StepRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["-time", "-pk"]
        indexes = [
            models.Index(fields=["deployment", "time"], name="migrator_event_dep_time"),
            # A plain index: db_index would add a second one for LIKE on PostgreSQL.
            models.Index(fields=["action"], name="migrator_event_action"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.actor}: {self.message}"


class Backup(models.Model):
    """A snapshot of tables taken before a run."""

    database = models.CharField(max_length=100)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="backups"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="backups"
    )
    migration = models.ForeignKey(
        "migrator.Migration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backups",
    )
    tables = models.JSONField(default=list, help_text="[{table, stored_as, rows, sha256, bytes}]")
    location = models.CharField(max_length=1000)
    rows = models.BigIntegerField(default=0)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"backup #{self.pk} of {self.database} ({len(self.tables)} tables)"


class TargetLock(models.Model):
    """Who holds a target database: the lock itself without advisory locks (SQLite), and a
    mirror of the PostgreSQL advisory lock that says who holds it."""

    database = models.CharField(max_length=100, unique=True)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    session = models.CharField(max_length=50, blank=True, help_text="Database session id.")
    acquired_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.database} held by {self.host}:{self.pid} (deployment {self.deployment_id})"
