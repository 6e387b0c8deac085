"""``python manage.py migrator <subcommand>``: the console for operators, cron and CI.

Exit codes (stable, documented in docs/commands.md): 0 fine, 1 a problem was found or an
operation failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...catalog import CatalogError
from ...cli import arguments, catalog_commands, deployment_commands, lint_commands
from ...exceptions import MigratorError

#: Every subcommand's handler: ``cmd_<subcommand>`` functions of the cli modules.
HANDLERS = {
    name[len("cmd_") :].replace("_", "-"): function
    for module in (catalog_commands, deployment_commands, lint_commands)
    for name, function in vars(module).items()
    if name.startswith("cmd_")
}


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
        arguments.add_all(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        handler = HANDLERS[options["subcommand"]]
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
