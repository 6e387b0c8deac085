"""Migration definitions mirrored from the catalog on disk, with their applied state."""

from __future__ import annotations

from django.db import models

from .history import AuditHistory


class Migration(models.Model):
    """One versioned change to a target database, and whether it is applied there."""

    class Kind(models.TextChoices):
        SCHEMA = "schema"
        DATA = "data"
        HYBRID = "hybrid"

    class Risk(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    # Indexed by the unique (database, version) constraint.
    database = models.CharField(max_length=100, default="default")
    version = models.CharField(max_length=100)
    name = models.CharField(max_length=255)
    position = models.PositiveIntegerField(
        default=0, help_text="Natural order of the version among the target's migrations."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SCHEMA)
    description = models.TextField(blank=True)
    author = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=1000, help_text="File or folder it was read from.")
    format = models.CharField(max_length=30)
    checksum = models.CharField(max_length=100)
    depends_on = models.JSONField(default=list, blank=True)
    reversible = models.BooleanField(default=True)
    transactional = models.BooleanField(default=True)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.LOW)
    requires_downtime = models.BooleanField(default=False)
    release = models.CharField(max_length=50, blank=True)
    repeatable = models.BooleanField(
        default=False,
        help_text="Flyway R__ script: runs after the versioned ones, again whenever it changes.",
    )
    unsupported = models.CharField(
        max_length=255,
        blank=True,
        help_text="Why migrator cannot run it (e.g. a goose .go migration); empty if it can.",
    )
    required_stop = models.BooleanField(
        default=False, help_text="Upgrade paths must stop at this version."
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Migration-wide options, e.g. foreign_keys: false."
    )
    on_disk = models.BooleanField(
        default=True, help_text="False once the file is gone from the catalog."
    )
    synced_at = models.DateTimeField(auto_now=True)

    applied = models.BooleanField(default=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_checksum = models.CharField(max_length=100, blank=True)
    applied_by = models.CharField(max_length=150, blank=True)
    applied_run = models.ForeignKey(
        "migrator.Run",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Changed by every migration applied, looked up by nothing: no index to write.
        db_index=False,
        help_text="The run that applied it: its captured values are what rollback restores.",
    )
    marked_done = models.BooleanField(
        default=False, help_text="Marked applied by an operator after running it elsewhere."
    )
    baselined = models.BooleanField(
        default=False, help_text="Marked applied by `baseline` without running it."
    )

    # History rows are read per object (by ``id``): indexes on their other keys only
    # slow down every write of an audit row.
    history = AuditHistory(no_db_index=["applied_run"])

    class Meta:
        ordering = ["database", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["database", "version"], name="migrator_migration_unique_version"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["schema", "data", "hybrid"]),
                name="migrator_migration_valid_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(applied=False) | ~models.Q(applied_checksum=""),
                name="migrator_migration_applied_has_checksum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.name} ({self.database})"

    @property
    def drifted(self) -> bool:
        """Applied, still on disk, and its content changed since it was applied."""
        return (
            self.applied
            and self.on_disk
            and not self.repeatable
            and self.applied_checksum != self.checksum
        )


class Step(models.Model):
    """One unit of work inside a migration; ``kind`` names a step kind of the registry
    (:mod:`migrator.engine.kinds`), so adding a kind needs no schema change."""

    # Indexed by the unique (migration, order) constraint it leads.
    migration = models.ForeignKey(
        Migration, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    order = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)
    forward = models.TextField(help_text="SQL, a dotted path, or a transform spec (JSON).")
    backward = models.TextField(blank=True)
    validation = models.TextField(blank=True)
    options = models.JSONField(default=dict, blank=True)

    history = AuditHistory(no_db_index=["migration"])

    class Meta:
        ordering = ["migration", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "order"], name="migrator_step_unique_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.migration.version} #{self.order} {self.name}"


class Console(Migration):
    """The console's entry in the admin index (a proxy: no table, no permissions of its
    own; who may see and do what is decided by the migration and deployment permissions)."""

    class Meta:
        proxy = True
        verbose_name = "console"
        verbose_name_plural = "console"
        default_permissions = ()
