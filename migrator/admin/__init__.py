"""Admin registrations: definitions with history, execution state read-only, the console."""

from . import console, definitions, execution  # noqa: F401 - registers the ModelAdmins
