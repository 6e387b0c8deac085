"""migrator's models: definitions, execution state and schema versions."""

from .definitions import Console, Migration, Step
from .execution import Backup, Deployment, Event, Run, StepRun, TargetLock
from .versions import SchemaVersion

__all__ = [
    "Console",
    "Backup",
    "Deployment",
    "Event",
    "Migration",
    "Run",
    "SchemaVersion",
    "Step",
    "StepRun",
    "TargetLock",
]
