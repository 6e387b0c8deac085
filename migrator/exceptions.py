"""Errors the services raise, each carrying the CLI exit code it maps to."""

from __future__ import annotations


class MigratorError(Exception):
    """Base class; ``exit_code`` is what ``manage.py migrator`` exits with."""

    exit_code = 1


class BadInput(MigratorError):
    """The request itself is wrong (unknown version, bad name, bad option): exit 2."""

    exit_code = 2


class OperationFailed(MigratorError):
    """A check found a problem, or an operation could not be carried out: exit 1."""

    exit_code = 1
