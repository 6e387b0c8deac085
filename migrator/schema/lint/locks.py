"""The table locks PostgreSQL statements take, and what each keeps others from doing."""

from __future__ import annotations

from typing import Any

from pglast.enums import AlterTableType, ConstrType

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"

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
    for lock in (ACCESS_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE):
        if lock in locks:
            return lock
    return ACCESS_EXCLUSIVE
