"""``python manage.py migrator <subcommand>``: the console for operators, cron and CI.

Exit codes (stable, documented in docs/commands.md): 0 fine, 1 a problem was found or an
operation failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import cli
from ...catalog import CatalogError
from ...catalog.formats import SCAFFOLDS
from ...exceptions import MigratorError


class UsageParser(CommandParser):
    """Usage errors exit 2 also through ``call_command`` (argparse does so on a terminal)."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            super().error(message)
        raise CommandError(f"Error: {message}", returncode=2)


class Command(BaseCommand):
    help = "Plan, apply, verify and audit versioned schema and data migrations."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = UsageParser  # same parser, our error(): see UsageParser
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="subcommand", required=True, metavar="SUBCOMMAND", parser_class=UsageParser
        )

        def add(name: str, help_text: str, json_output: bool = True) -> Any:
            p = sub.add_parser(name, help=help_text, description=help_text)
            if json_output:
                p.add_argument("--json", action="store_true", help="Machine-readable output.")
            return p

        p = add("status", "Current version, applied, pending, drifted and running work.")
        p.add_argument("--database", help="Only this target alias.")

        p = add("sync", "Mirror the catalog on disk into the database (all or nothing).")
        p.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 if a sync would change."
        )

        p = add("verify", "Check applied migrations against their files (drift, missing).")
        p.add_argument("--database")

        p = add("repair", "Accept the changed checksum of drifted migrations (audited).")
        p.add_argument("--database")
        p.add_argument("--reason", required=True, help="Why the change is accepted.")
        p.add_argument("versions", nargs="*", help="Only these versions (default: all drifted).")

        p = add("baseline", "Mark everything up to a version applied without running it.")
        p.add_argument("--version", required=True, dest="baseline_version")
        p.add_argument("--database", default=None)

        p = add("create", "Scaffold a new migration with the next version.")
        p.add_argument("name")
        p.add_argument("--format", default="sql", choices=sorted(SCAFFOLDS), dest="fmt")
        p.add_argument("--database")
        p.add_argument("--dir", dest="directory", help="Folder to write to.")

        cli.add_deployment_subcommands(add)

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(cli, "cmd_" + options["subcommand"].replace("-", "_"))
        as_json = options.get("json", False)
        try:
            handler(self, options)
        except CatalogError as exc:
            if as_json:
                self.stdout.write(json.dumps({"errors": [p.as_dict() for p in exc.problems]}))
            raise CommandError(
                "the catalog has problems, nothing was changed:\n" + str(exc), returncode=2
            ) from exc
        except MigratorError as exc:
            if as_json:
                self.stdout.write(json.dumps({"error": str(exc)}))
            raise CommandError(str(exc), returncode=exc.exit_code) from exc
