"""Errors raised while executing steps and runs."""

from __future__ import annotations

from typing import Any


class StepFailed(Exception):
    """A step could not do its work; the message says what and where."""

    #: Structured detail for the deployment's failure record (statement, line, ...).
    detail: dict[str, Any] = {}


class RunFailed(Exception):
    """A run stopped for good (after retries); the message is what gets recorded."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None):
        super().__init__(message)
        self.detail = detail or {}
