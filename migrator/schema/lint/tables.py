"""Lint of the statements that shape tables: CREATE TABLE and ALTER TABLE (columns, types,
defaults, constraints, identities, row-level security), with the locks they take."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pglast.enums import AlterTableType, ConstrType

from . import rules
from .context import LintContext
from .locks import ACCESS_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, alter_table_lock

#: Functions whose value differs per row: a default using one rewrites the table.
_VOLATILE = {
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
}
_SERIAL = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}
_INT_TYPES = {"int4", "int2", "integer", "int", "smallint", "serial", "serial4", "smallserial"}


def relname(node: Any) -> str | None:
    relation = getattr(node, "relation", None)
    return None if relation is None else str(relation.relname)


def _type_name(column: Any) -> tuple[str, Any]:
    type_name = column.typeName
    if type_name is None:
        return "", None
    names = [str(n.sval) for n in type_name.names]
    return names[-1].lower(), type_name.typmods


def _columns(
    context: LintContext, columns: Iterable[Any], keys: set[str], line: int, sql: str
) -> None:
    for column in columns:
        if type(column).__name__ != "ColumnDef":
            continue
        name, typmods = _type_name(column)
        constraints = [c.contype for c in column.constraints or ()]
        is_key = ConstrType.CONSTR_PRIMARY in constraints or str(column.colname) in keys
        if is_key and name in _INT_TYPES:
            context.add(rules.INT_KEY, line, sql, f"{column.colname} is {name}")
        if name == "timestamp":
            context.add(rules.NAIVE_TIMESTAMP, line, sql, f"{column.colname} is timestamp")
        if name == "varchar" and typmods:
            context.add(rules.VARCHAR_LENGTH, line, sql, f"{column.colname} is varchar(n)")
        if name == "json":
            context.add(rules.PLAIN_JSON, line, sql, f"{column.colname} is json")


def create_table(context: LintContext, node: Any, line: int, sql: str) -> None:
    name = relname(node)
    referenced = [
        str(item.pktable.relname)
        for item in _walk(node)
        if type(item).__name__ == "Constraint"
        and item.contype == ConstrType.CONSTR_FOREIGN
        and item.pktable is not None
    ]
    existing = [table for table in referenced if context.existing(table)]
    if existing:
        needs_lock_timeout(
            context,
            line,
            sql,
            f"its foreign keys lock {', '.join(existing)}",
            table=existing[0],
            lock=SHARE_ROW_EXCLUSIVE,
        )
    if name:
        context.created.add(name.lower())
    keys = {
        str(key.sval)
        for element in node.tableElts or ()
        if type(element).__name__ == "Constraint" and element.contype == ConstrType.CONSTR_PRIMARY
        for key in element.keys or ()
    }
    _columns(context, node.tableElts or (), keys, line, sql)


def _default_of(column: Any) -> Any:
    if column.raw_default is not None:
        return column.raw_default
    for constraint in column.constraints or ():
        if constraint.contype == ConstrType.CONSTR_DEFAULT:
            return constraint.raw_expr
    return None


def _volatile(expression: Any) -> bool:
    if expression is None:
        return False
    for node in _walk(expression):
        if type(node).__name__ == "FuncCall":
            if str(node.funcname[-1].sval).lower() in _VOLATILE:
                return True
    return False


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for slot in getattr(node, "__slots__", ()):
        value = getattr(node, slot, None)
        if isinstance(value, tuple):
            for item in value:
                if hasattr(item, "__slots__"):
                    yield from _walk(item)
        elif hasattr(value, "__slots__"):
            yield from _walk(value)


def _add_column(context: LintContext, table: str, column: Any, line: int, sql: str) -> None:
    name, _ = _type_name(column)
    constraints = [c.contype for c in column.constraints or ()]
    default = _default_of(column)
    generated = ConstrType.CONSTR_IDENTITY in constraints or ConstrType.CONSTR_GENERATED in (
        constraints
    )
    if ConstrType.CONSTR_NOTNULL in constraints and default is None and not generated:
        if name not in _SERIAL:
            context.add(
                rules.REQUIRED_COLUMN,
                line,
                sql,
                f"{table}.{column.colname} is NOT NULL",
                table=table,
                lock=ACCESS_EXCLUSIVE,
            )
    if name in _SERIAL or _volatile(default):
        context.add(
            rules.VOLATILE_DEFAULT,
            line,
            sql,
            f"{table}.{column.colname}: every row rewritten",
            table=table,
            lock=ACCESS_EXCLUSIVE,
        )
    _columns(context, [column], set(), line, sql)


def alter_table(context: LintContext, node: Any, line: int, sql: str) -> None:
    table = relname(node) or ""
    if not context.existing(table):
        return
    locked = {"table": table, "lock": ACCESS_EXCLUSIVE}
    for command in node.cmds or ():
        subtype, definition = command.subtype, command.def_
        if subtype == AlterTableType.AT_DropColumn:
            context.add(rules.DROP_COLUMN, line, sql, f"{table}.{command.name} dropped", **locked)
        elif subtype == AlterTableType.AT_AddColumn and definition is not None:
            _add_column(context, table, definition, line, sql)
        elif subtype == AlterTableType.AT_AlterColumnType:
            context.add(
                rules.CHANGE_TYPE, line, sql, f"{table}.{command.name} changes type", **locked
            )
            if definition is not None and type(definition).__name__ == "ColumnDef":
                definition.colname = command.name  # the new type, named for the message
                _columns(context, [definition], set(), line, sql)
        elif subtype == AlterTableType.AT_SetNotNull:
            context.add(
                rules.SET_NOT_NULL, line, sql, f"{table}.{command.name} SET NOT NULL", **locked
            )
        elif subtype == AlterTableType.AT_AddConstraint and definition is not None:
            _add_constraint(context, table, definition, line, sql)
        elif subtype == AlterTableType.AT_DropConstraint:
            context.add(
                rules.DROP_CONSTRAINT, line, sql, f"{table}: {command.name} dropped", **locked
            )
        elif subtype == AlterTableType.AT_ColumnDefault:
            how = "dropped" if definition is None else "changed"
            context.add(
                rules.DEFAULT_CHANGED, line, sql, f"{table}.{command.name} default {how}", **locked
            )
        elif subtype in (
            AlterTableType.AT_SetIdentity,
            AlterTableType.AT_DropIdentity,
            AlterTableType.AT_AddIdentity,
        ):
            context.add(
                rules.ALTER_SEQUENCE,
                line,
                sql,
                f"{table}.{command.name} identity altered",
                **locked,
            )
        elif subtype in (AlterTableType.AT_EnableRowSecurity, AlterTableType.AT_ForceRowSecurity):
            context.add(rules.ROW_SECURITY, line, sql, f"row-level security on {table}", **locked)
    needs_lock_timeout(
        context,
        line,
        sql,
        f"ALTER TABLE {table} may wait for its lock",
        table=table,
        lock=alter_table_lock(node),
    )


def needs_lock_timeout(
    context: LintContext,
    line: int,
    sql: str,
    why: str,
    *,
    table: str | None = None,
    lock: str | None = None,
) -> None:
    if not context.lock_timeout:
        context.add(rules.LOCK_TIMEOUT, line, sql, why, table=table, lock=lock)


def _add_constraint(context: LintContext, table: str, constraint: Any, line: int, sql: str) -> None:
    kind = constraint.contype
    validated = not constraint.skip_validation
    if kind == ConstrType.CONSTR_FOREIGN and validated:
        context.add(
            rules.FOREIGN_KEY,
            line,
            sql,
            f"foreign key on {table} checks every row",
            table=table,
            lock=SHARE_ROW_EXCLUSIVE,
        )
    elif kind == ConstrType.CONSTR_CHECK and validated:
        context.add(
            rules.CHECK_CONSTRAINT,
            line,
            sql,
            f"CHECK on {table} checks every row",
            table=table,
            lock=ACCESS_EXCLUSIVE,
        )
    elif kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and not (
        constraint.indexname
    ):
        context.add(
            rules.UNIQUE_CONSTRAINT,
            line,
            sql,
            f"index built in place on {table}",
            table=table,
            lock=ACCESS_EXCLUSIVE,
        )
