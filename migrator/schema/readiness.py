"""Readiness: before an apply, count on the live data what the planned statements would
trip over (what Atlas leaves to hand-written pre-checks), with up to ten example rows.

- a UNIQUE constraint or unique index: duplicate groups of its columns;
- SET NOT NULL: rows where the column is NULL;
- a NOT NULL column added without a default: rows already in the table;
- a FOREIGN KEY: rows whose (non-NULL) keys have no parent;
- a CHECK constraint: rows that violate it;
- a type change to a narrower type (``varchar(n)``/``char(n)``, ``smallint``,
  ``integer``, ``numeric(p, s)``) without ``USING``: values that would not fit;
- on PostgreSQL, transactions open for over a minute, which would block the locks needed.

Statements are read by PostgreSQL's parser (as by lint); only tables that exist before the
plan runs are checked (a table the plan creates has no rows to trip over). Identifiers are
quoted with the connection's own quoting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connections
from pglast import parse_sql
from pglast import parser as pg_parser
from pglast.enums import AlterTableType, ConstrType
from pglast.stream import RawStream

from ..catalog.spec import MigrationSpec
from ..dialects import split_statements

#: Example rows shown per check.
EXAMPLES = 10


@dataclass
class Readiness:
    """One pre-check on live data: how many rows would make a statement fail."""

    check: str  # duplicates, nulls, rows, orphans, violations, long_transactions
    version: str
    table: str
    what: str
    count: int
    examples: list[list[str]] = field(default_factory=list)
    line: int | None = None
    #: Why the check could not be counted (it then is not ok: nothing is known).
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.count == 0 and not self.error

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def readiness(database: str, specs: Iterable[MigrationSpec]) -> list[Readiness]:
    """Every pre-check of the forward SQL of ``specs`` against ``database``'s live data."""
    connection = connections[database]
    existing = set(connection.introspection.table_names())
    checker = _Checker(database, existing)
    for spec in specs:
        for step in spec.steps:
            if step.kind != "sql" or not isinstance(step.forward, str):
                continue
            for statement in split_statements(connection.vendor, step.forward):
                try:
                    nodes = parse_sql(statement.sql)
                except pg_parser.ParseError:
                    continue  # lint reports it (M162); the database will too
                for raw in nodes:
                    checker.statement(spec.version, raw.stmt, statement.line)
    if connection.vendor == "postgresql":
        checker.long_transactions()
    return checker.found


class _Checker:
    def __init__(self, database: str, existing: set[str]):
        self.connection = connections[database]
        self.quote = self.connection.ops.quote_name
        self.existing = existing
        self.found: list[Readiness] = []

    def statement(self, version: str, node: Any, line: int) -> None:
        kind = type(node).__name__
        if kind == "CreateStmt" and node.relation is not None:
            # Created by the plan: later statements on it have nothing to check.
            self.existing.discard(str(node.relation.relname))
        elif kind == "AlterTableStmt":
            self._alter(version, node, line)
        elif kind == "IndexStmt" and node.unique:
            table = str(node.relation.relname)
            columns = [str(p.name) for p in node.indexParams if p.name]
            if len(columns) == len(node.indexParams):
                self._duplicates(version, table, columns, line)

    def _alter(self, version: str, node: Any, line: int) -> None:
        table = str(node.relation.relname)
        if table not in self.existing:
            return
        for command in node.cmds or ():
            definition = command.def_
            if command.subtype == AlterTableType.AT_SetNotNull:
                self._nulls(version, table, str(command.name), line)
            elif command.subtype == AlterTableType.AT_AddColumn and definition is not None:
                kinds = [c.contype for c in definition.constraints or ()]
                has_default = definition.raw_default is not None or (
                    ConstrType.CONSTR_DEFAULT in kinds
                )
                if ConstrType.CONSTR_NOTNULL in kinds and not has_default:
                    self._rows(version, table, str(definition.colname), line)
            elif command.subtype == AlterTableType.AT_AddConstraint and definition is not None:
                self._constraint(version, table, definition, line)
            elif command.subtype == AlterTableType.AT_AlterColumnType and definition is not None:
                if definition.raw_default is None:  # USING: whatever it computes is unknown
                    self._narrowing(version, table, str(command.name), definition, line)

    def _constraint(self, version: str, table: str, constraint: Any, line: int) -> None:
        kind = constraint.contype
        if kind in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and constraint.keys:
            self._duplicates(version, table, [str(k.sval) for k in constraint.keys], line)
            if kind == ConstrType.CONSTR_PRIMARY:
                for key in constraint.keys:
                    self._nulls(version, table, str(key.sval), line)
        elif kind == ConstrType.CONSTR_FOREIGN and constraint.pktable is not None:
            parent = str(constraint.pktable.relname)
            columns = [str(k.sval) for k in constraint.fk_attrs or ()]
            parents = [str(k.sval) for k in constraint.pk_attrs or ()]
            if parent in self.existing and parents and len(parents) == len(columns):
                self._orphans(version, table, columns, parent, parents, line)
        elif kind == ConstrType.CONSTR_CHECK and constraint.raw_expr is not None:
            expression = RawStream()(constraint.raw_expr)
            self._violations(version, table, expression, line)

    # -- the queries ---------------------------------------------------------------------

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def _add(
        self,
        check: str,
        version: str,
        table: str,
        what: str,
        count: int,
        examples: list[tuple[Any, ...]],
        line: int,
    ) -> None:
        rows = [[str(value) for value in row] for row in examples[:EXAMPLES]]
        self.found.append(Readiness(check, version, table, what, int(count), rows, line))

    def _duplicates(self, version: str, table: str, columns: list[str], line: int) -> None:
        if table not in self.existing:
            return
        q, cols = self.quote, ", ".join(self.quote(c) for c in columns)
        not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)
        groups = (
            f"SELECT {cols}, COUNT(*) FROM {q(table)} WHERE {not_null} "
            f"GROUP BY {cols} HAVING COUNT(*) > 1"
        )
        [(count,)] = self._query(f"SELECT COUNT(*) FROM ({groups}) AS duplicate_groups")
        examples = self._query(f"{groups} ORDER BY COUNT(*) DESC LIMIT {EXAMPLES}") if count else []
        what = f"duplicate ({', '.join(columns)}) groups: a unique constraint would fail"
        self._add("duplicates", version, table, what, count, examples, line)

    def _nulls(self, version: str, table: str, column: str, line: int) -> None:
        q = self.quote
        where = f"FROM {q(table)} WHERE {q(column)} IS NULL"
        [(count,)] = self._query(f"SELECT COUNT(*) {where}")
        examples = self._query(f"SELECT * {where} LIMIT {EXAMPLES}") if count else []
        what = f"rows with {column} NULL: NOT NULL would fail"
        self._add("nulls", version, table, what, count, examples, line)

    def _rows(self, version: str, table: str, column: str, line: int) -> None:
        [(count,)] = self._query(f"SELECT COUNT(*) FROM {self.quote(table)}")
        what = f"rows that would need a value for the new NOT NULL column {column}"
        self._add("rows", version, table, what, count, [], line)

    def _orphans(
        self,
        version: str,
        table: str,
        columns: list[str],
        parent: str,
        parents: list[str],
        line: int,
    ) -> None:
        q = self.quote
        join = " AND ".join(f"p.{q(p)} = c.{q(c)}" for c, p in zip(columns, parents, strict=True))
        present = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in columns)
        where = (
            f"FROM {q(table)} c WHERE {present} AND NOT EXISTS "
            f"(SELECT 1 FROM {q(parent)} p WHERE {join})"
        )
        [(count,)] = self._query(f"SELECT COUNT(*) {where}")
        keys = ", ".join(f"c.{q(c)}" for c in columns)
        examples = self._query(f"SELECT {keys} {where} LIMIT {EXAMPLES}") if count else []
        what = f"rows whose ({', '.join(columns)}) has no {parent} row: the foreign key would fail"
        self._add("orphans", version, table, what, count, examples, line)

    def _violations(self, version: str, table: str, expression: str, line: int) -> None:
        where = f"FROM {self.quote(table)} WHERE NOT ({expression})"
        try:
            [(count,)] = self._query(f"SELECT COUNT(*) {where}")
        except Exception as exc:  # noqa: BLE001 - an expression this database cannot evaluate
            what = f"CHECK ({expression}) could not be counted here"
            self.found.append(Readiness("violations", version, table, what, 0, [], line, str(exc)))
            return
        examples = self._query(f"SELECT * {where} LIMIT {EXAMPLES}") if count else []
        what = f"rows violating CHECK ({expression})"
        self._add("violations", version, table, what, count, examples, line)

    def _narrowing(self, version: str, table: str, column: str, definition: Any, line: int) -> None:
        found = _does_not_fit(self.quote(column), definition.typeName)
        if found is None:
            return
        condition, type_text = found
        where = f"FROM {self.quote(table)} WHERE {self.quote(column)} IS NOT NULL AND ({condition})"
        what = f"values of {column} that do not fit {type_text}: the type change would fail"
        try:
            [(count,)] = self._query(f"SELECT COUNT(*) {where}")
        except Exception as exc:  # noqa: BLE001 - e.g. text that is not a number
            self.found.append(Readiness("narrowing", version, table, what, 0, [], line, str(exc)))
            return
        examples = self._query(f"SELECT * {where} LIMIT {EXAMPLES}") if count else []
        self._add("narrowing", version, table, what, count, examples, line)

    def long_transactions(self) -> None:
        rows = self._query(
            "SELECT pid, now() - xact_start, state, left(query, 80) FROM pg_stat_activity "
            "WHERE xact_start < now() - interval '1 minute' AND pid <> pg_backend_pid() "
            "AND datname = current_database() ORDER BY xact_start"
        )
        what = "transactions open for over a minute: they would block the locks the plan needs"
        self._add("long_transactions", "", "", what, len(rows), rows, 0)


_INTEGER_RANGES = {
    "int2": (-32768, 32767),
    "smallint": (-32768, 32767),
    "int4": (-2147483648, 2147483647),
    "integer": (-2147483648, 2147483647),
    "int": (-2147483648, 2147483647),
}
_CHARACTERS = {"varchar", "bpchar", "char", "character", "character varying"}


def _does_not_fit(column: str, type_name: Any) -> tuple[str, str] | None:
    """``(SQL condition true for a value that does not fit, the type as written)`` for the
    narrowing types readiness knows; None for the others."""
    if type_name is None:
        return None
    name = str(type_name.names[-1].sval).lower()
    sizes = [_integer(m) for m in type_name.typmods or ()]
    if name in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[name]
        return f"{column} < {low} OR {column} > {high}", name
    if name in _CHARACTERS and sizes and sizes[0] is not None:
        return f"length(CAST({column} AS TEXT)) > {sizes[0]}", f"{name}({sizes[0]})"
    if name in ("numeric", "decimal") and sizes and sizes[0] is not None:
        precision, scale = sizes[0], (sizes[1] if len(sizes) > 1 and sizes[1] else 0)
        limit = 10 ** (precision - scale)
        # Stored rounded to the scale: 99.995 becomes 100.00, too big for numeric(4, 2).
        rounded = f"round(CAST({column} AS NUMERIC), {scale})"
        return f"abs({rounded}) >= {limit}", f"{name}({precision}, {scale})"
    return None


def _integer(node: Any) -> int | None:
    value = getattr(getattr(node, "val", None), "ival", None)
    return int(value) if value is not None else None
