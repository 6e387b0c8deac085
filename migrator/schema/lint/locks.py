"""The table locks PostgreSQL statements take, and what each keeps others from doing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast.enums import AlterTableType, ConstrType

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"

#: Strongest first (each conflicts with at least what the next ones conflict with).
BY_STRENGTH = (
    ACCESS_EXCLUSIVE,
    "EXCLUSIVE",
    SHARE_ROW_EXCLUSIVE,
    SHARE,
    SHARE_UPDATE_EXCLUSIVE,
    ROW_EXCLUSIVE,
)
#: Modes that stop the application's reads or writes of the table while held.
BLOCKS_APPLICATION = frozenset({ACCESS_EXCLUSIVE, "EXCLUSIVE", SHARE_ROW_EXCLUSIVE, SHARE})

#: What each PostgreSQL table lock mode a migration takes keeps others from doing while it
#: is held (the lock table of the PostgreSQL manual, "Explicit Locking").
LOCK_BLOCKS = {
    ACCESS_EXCLUSIVE: "reads and writes",
    "EXCLUSIVE": "writes",
    SHARE_ROW_EXCLUSIVE: "writes",
    SHARE: "writes",
    SHARE_UPDATE_EXCLUSIVE: "other schema changes and VACUUM (reads and writes go on)",
    ROW_EXCLUSIVE: "schema changes, and writes to the rows it changes",
}


def alter_table_lock(node: Any) -> str:
    """The strongest lock an ALTER TABLE's commands take: ACCESS EXCLUSIVE but for adding
    foreign keys (SHARE ROW EXCLUSIVE) and validating constraints (SHARE UPDATE EXCLUSIVE)."""
    locks = set()
    for command in node.cmds or ():
        definition = command.def_
        if command.subtype == AlterTableType.AT_ValidateConstraint:
            locks.add(SHARE_UPDATE_EXCLUSIVE)
        elif (
            command.subtype == AlterTableType.AT_AddConstraint
            and definition is not None
            and getattr(definition, "contype", None) == ConstrType.CONSTR_FOREIGN
        ):
            locks.add(SHARE_ROW_EXCLUSIVE)
        else:
            locks.add(ACCESS_EXCLUSIVE)
    return strongest(locks) or ACCESS_EXCLUSIVE


def strongest(locks: Iterable[str]) -> str | None:
    """The strongest of ``locks`` (None if there is none)."""
    return min(locks, key=BY_STRENGTH.index, default=None)
