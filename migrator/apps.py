"""App configuration: the one place that registers checks and signals."""

from django.apps import AppConfig


class MigratorConfig(AppConfig):
    name = "migrator"
    verbose_name = "Migrations console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import checks  # noqa: F401 - registers the system checks
        from .dialects import sqlite_schema_retry

        connection_created.connect(
            sqlite_schema_retry.install, dispatch_uid="migrator_sqlite_schema_retry"
        )
