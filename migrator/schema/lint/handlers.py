"""One handler per statement type: each adds the findings its statement earns, knowing
what the migration did before it (see :class:`.context.LintContext`). Those of CREATE and
ALTER TABLE are in :mod:`.tables`."""

from __future__ import annotations

from typing import Any

from pglast.enums import DropBehavior, ObjectType

from . import rules
from .context import LintContext
from .locks import ACCESS_EXCLUSIVE, ROW_EXCLUSIVE, SHARE, SHARE_UPDATE_EXCLUSIVE
from .tables import alter_table, create_table, needs_lock_timeout, relname


def _rename(context: LintContext, node: Any, line: int, sql: str) -> None:
    table = relname(node)
    if not context.existing(table):
        return
    locked = {"table": table, "lock": ACCESS_EXCLUSIVE}
    if node.renameType == ObjectType.OBJECT_TABLE:
        context.add(rules.RENAME_TABLE, line, sql, f"{table} renamed to {node.newname}", **locked)
    elif node.renameType == ObjectType.OBJECT_COLUMN:
        context.add(
            rules.RENAME_COLUMN,
            line,
            sql,
            f"{table}.{node.subname} renamed to {node.newname}",
            **locked,
        )


def _object_names(node: Any) -> list[str]:
    """The unqualified names a DROP names (tables, types, functions alike)."""
    names = []
    for item in node.objects or ():
        if isinstance(item, tuple):
            parts = item
        elif hasattr(item, "sval"):
            parts = (item,)
        else:
            parts = getattr(item, "names", None) or getattr(item, "objname", None) or ()
        names.append(str(parts[-1].sval) if parts else "?")
    return names


def _drop(context: LintContext, node: Any, line: int, sql: str) -> None:
    kind = node.removeType
    if kind == ObjectType.OBJECT_TABLE:
        for name in _object_names(node):
            if context.existing(name):
                context.add(
                    rules.DROP_TABLE,
                    line,
                    sql,
                    f"{name} dropped",
                    table=name,
                    lock=ACCESS_EXCLUSIVE,
                )
    elif kind == ObjectType.OBJECT_INDEX:
        lock = SHARE_UPDATE_EXCLUSIVE if node.concurrent else ACCESS_EXCLUSIVE
        if not node.concurrent:
            context.add(rules.DROP_INDEX_LOCKS, line, sql, "DROP INDEX locks its table", lock=lock)
        needs_lock_timeout(context, line, sql, "DROP INDEX waits for its table's lock", lock=lock)
    elif kind == ObjectType.OBJECT_POLICY:
        context.add(rules.ROW_SECURITY, line, sql, "policy dropped")
    elif kind == ObjectType.OBJECT_SCHEMA:
        context.add(rules.DROP_SCHEMA, line, sql, f"schema {', '.join(_object_names(node))}")
    elif kind in (
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
        ObjectType.OBJECT_FUNCTION,
        ObjectType.OBJECT_PROCEDURE,
        ObjectType.OBJECT_TYPE,
    ):
        context.add(rules.DROP_OBJECT, line, sql, f"{', '.join(_object_names(node))} dropped")


def _index(context: LintContext, node: Any, line: int, sql: str) -> None:
    table = relname(node)
    if not context.existing(table):
        return
    locked = {"table": table, "lock": SHARE_UPDATE_EXCLUSIVE if node.concurrent else SHARE}
    if not node.concurrent:
        context.add(rules.INDEX_LOCKS, line, sql, f"index on {table} blocks writes", **locked)
    needs_lock_timeout(context, line, sql, f"an index on {table} waits for its lock", **locked)


def _reindex(context: LintContext, node: Any, line: int, sql: str) -> None:
    options = {str(p.defname).lower() for p in node.params or ()}
    if "concurrently" not in options:
        context.add(
            rules.REINDEX_LOCKS,
            line,
            sql,
            "REINDEX blocks writes",
            table=relname(node),
            lock=SHARE,
        )


def _vacuum(context: LintContext, node: Any, line: int, sql: str) -> None:
    options = {str(o.defname).lower() for o in node.options or ()}
    if "full" in options:
        relations = [relname(item) for item in node.rels or ()]
        context.add(
            rules.TABLE_REWRITE,
            line,
            sql,
            "VACUUM FULL rewrites the table",
            table=next((name for name in relations if name), None),
            lock=ACCESS_EXCLUSIVE,
        )


def _cluster(context: LintContext, node: Any, line: int, sql: str) -> None:
    context.add(
        rules.TABLE_REWRITE,
        line,
        sql,
        "CLUSTER rewrites the table",
        table=relname(node),
        lock=ACCESS_EXCLUSIVE,
    )


def _truncate(context: LintContext, node: Any, line: int, sql: str) -> None:
    if node.behavior == DropBehavior.DROP_CASCADE:
        tables = [str(relation.relname) for relation in node.relations or ()]
        context.add(
            rules.TRUNCATE_CASCADE,
            line,
            sql,
            "TRUNCATE ... CASCADE",
            table=tables[0] if tables else None,
            lock=ACCESS_EXCLUSIVE,
        )


def _set_schema(context: LintContext, node: Any, line: int, sql: str) -> None:
    context.add(
        rules.SET_SCHEMA,
        line,
        sql,
        f"moved to schema {node.newschema}",
        table=relname(node),
        lock=ACCESS_EXCLUSIVE,
    )


def _grant(context: LintContext, node: Any, line: int, sql: str) -> None:
    if not node.is_grant:
        context.add(rules.REVOKE, line, sql, "privileges revoked")


def _alter_enum(context: LintContext, node: Any, line: int, sql: str) -> None:
    if node.newVal and not node.oldVal:
        context.add(rules.ENUM_VALUE, line, sql, f"label {node.newVal!r} added")


def _replace(context: LintContext, node: Any, line: int, sql: str) -> None:
    if not node.replace:
        return
    if type(node).__name__ == "ViewStmt":
        name = str(node.view.relname)
    else:
        name = ".".join(str(part.sval) for part in node.funcname or ())
    context.add(rules.REPLACE_OBJECT, line, sql, f"{name} replaced")


def _alter_sequence(context: LintContext, node: Any, line: int, sql: str) -> None:
    context.add(rules.ALTER_SEQUENCE, line, sql, f"sequence {node.sequence.relname} altered")


def _policy(context: LintContext, node: Any, line: int, sql: str) -> None:
    if not node.permissive:
        context.add(rules.ROW_SECURITY, line, sql, f"restrictive policy {node.policy_name}")


def _update_or_delete(context: LintContext, node: Any, line: int, sql: str) -> None:
    table = relname(node)
    if node.whereClause is None and context.transactional and context.existing(table):
        context.add(
            rules.UNBATCHED_UPDATE,
            line,
            sql,
            f"every row of {table} in one transaction",
            table=table,
            lock=ROW_EXCLUSIVE,
        )


def _set(context: LintContext, node: Any, line: int, sql: str) -> None:
    if str(node.name or "").lower() == "lock_timeout":
        context.lock_timeout = True


HANDLERS = {
    "CreateStmt": create_table,
    "AlterTableStmt": alter_table,
    "RenameStmt": _rename,
    "DropStmt": _drop,
    "IndexStmt": _index,
    "ReindexStmt": _reindex,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "TruncateStmt": _truncate,
    "AlterObjectSchemaStmt": _set_schema,
    "GrantStmt": _grant,
    "AlterEnumStmt": _alter_enum,
    "ViewStmt": _replace,
    "CreateFunctionStmt": _replace,
    "AlterSeqStmt": _alter_sequence,
    "CreatePolicyStmt": _policy,
    "UpdateStmt": _update_or_delete,
    "DeleteStmt": _update_or_delete,
    "VariableSetStmt": _set,
}
