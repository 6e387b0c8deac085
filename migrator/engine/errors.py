"""Errors of step execution, shared by the SQL runner and the step kinds."""


class StepFailed(Exception):
    """A step could not do its work; the message says what and where."""
