"""Capturing a PostgreSQL schema from the system catalogs: a dozen queries sent together in
one round trip, each one's rows worked on while the server runs the next.

``pg_depend`` is always asked with the catalog of the object (``classid``) as well as its
oid: its index starts with it, and without it every row asked about scans the table (a
schema of thousands of tables has tens of thousands of dependencies).

Shape (every dialect produces the same keys, see :mod:`migrator.schema`)::

    {"vendor", "schemas": [...], "tables": {name: {"columns", "primary_key", "indexes",
     "constraints", "triggers", "rls", "privileges", "rows", "bytes"}}, "enums", "views",
     "functions", "sequences"}

Objects of the current schema are keyed by their bare name, others as ``schema.name``.
migrator's own tables, the backup schema and objects owned by extensions are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..conf import migrator_settings
from .base import OWN_PREFIX

if TYPE_CHECKING:
    from .postgresql import PostgreSQLDialect

_USER_SCHEMAS = """
n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
AND n.nspname <> %s
"""

_SCHEMAS = f"""
SELECT n.nspname FROM pg_namespace n WHERE {_USER_SCHEMAS}
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                AND d.objid = n.oid AND d.deptype = 'e')
ORDER BY 1
"""

_TABLES = f"""
SELECT n.nspname, c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid),
       c.relrowsecurity, c.relforcerowsecurity, coalesce(c.relacl::text[], '{{}}'), c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {_USER_SCHEMAS}
ORDER BY 1, 2
"""

_COLUMNS = f"""
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attnum
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND {_USER_SCHEMAS}
ORDER BY 1, 2, a.attnum
"""

_CONSTRAINTS = f"""
SELECT n.nspname, cl.relname, con.conname, con.contype, con.convalidated, con.condeferrable,
       -- A primary key is kept as its columns: its definition is not needed (and
       -- deparsing one per table is most of this query on a schema of many tables).
       CASE WHEN con.contype = 'p' THEN NULL ELSE pg_get_constraintdef(con.oid, true) END,
       -- The constraint's own columns by number (named from the columns read before:
       -- looking each up here is most of this query on a schema of many tables); those
       -- a foreign key references, by name (their table may be one not read).
       con.conkey,
       fn.nspname, fcl.relname,
       CASE WHEN con.contype = 'f' THEN
         array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
               ORDER BY k.ord)
       END,
       con.confupdtype, con.confdeltype
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fcl.relnamespace
WHERE {_USER_SCHEMAS} AND con.contype IN ('p', 'f', 'c', 'u', 'x')
ORDER BY 1, 2, 3
"""

_INDEXES = f"""
SELECT n.nspname, t.relname, i.relname, ix.indisunique, am.amname,
       pg_get_expr(ix.indpred, ix.indrelid),
       array(SELECT pg_get_indexdef(ix.indexrelid, k, true)
             FROM generate_series(1, ix.indnkeyatts) AS k ORDER BY k),
       ix.indisvalid, pg_get_indexdef(ix.indexrelid), pg_relation_size(i.oid)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE {_USER_SCHEMAS} AND NOT ix.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid
                  AND c.contype IN ('p', 'u', 'x'))
ORDER BY 1, 2, 3
"""

_TRIGGERS = f"""
SELECT n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid, true), tg.tgenabled
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND {_USER_SCHEMAS}
ORDER BY 1, 2, 3
"""

_POLICIES = """
SELECT schemaname, tablename, policyname, permissive, roles::text[], cmd, qual, with_check
FROM pg_policies WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3
"""

_ENUMS = f"""
SELECT n.nspname, t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE {_USER_SCHEMAS}
GROUP BY 1, 2 ORDER BY 1, 2
"""

_VIEWS = f"""
SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid, true)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_USER_SCHEMAS}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

_FUNCTIONS = f"""
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
       pg_get_function_result(p.oid), p.prokind, l.lanname, p.provolatile, md5(p.prosrc)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE {_USER_SCHEMAS}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1, 2, 3
"""

_SEQUENCES = f"""
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcycle,
       (SELECT dc.relname || '.' || a.attname FROM pg_depend d
          JOIN pg_class dc ON dc.oid = d.refobjid
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.deptype IN ('a', 'i') LIMIT 1)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_SCHEMAS}
ORDER BY 1, 2
"""

_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_CONSTRAINT_TYPES = {"f": "foreign_key", "c": "check", "u": "unique", "x": "exclusion"}
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}


def capture(dialect: PostgreSQLDialect) -> dict[str, Any]:
    """The whole user schema of the connected database."""
    with _reads(dialect) as rows:
        return _capture(rows)


#: In the order :func:`_capture` reads them.
_QUERIES = (
    "SELECT current_schema()",
    _TABLES,
    _COLUMNS,
    _CONSTRAINTS,
    _INDEXES,
    _TRIGGERS,
    _POLICIES,
    _ENUMS,
    _VIEWS,
    _FUNCTIONS,
    _SEQUENCES,
    _SCHEMAS,
)


@contextmanager
def _reads(dialect: PostgreSQLDialect) -> Iterator[Callable[[], list[tuple[Any, ...]]]]:
    """The rows of each of ``_QUERIES`` in turn: all sent at once (the server runs each
    while the one before is worked on), or one by one where Django logs queries."""
    backup = migrator_settings.BACKUP_SCHEMA
    queries = [(sql, [backup] * sql.count("%s")) for sql in _QUERIES]
    connection = dialect.connection
    if connection.queries_logged:
        pending = iter(queries)
        yield lambda: dialect.rows(*next(pending))
        return
    from .postgresql_cursor import PipelinedReads

    connection.ensure_connection()
    with PipelinedReads(connection.connection, queries) as reads:
        yield reads.rows


def _capture(query: Callable[[], list[tuple[Any, ...]]]) -> dict[str, Any]:
    ((current,),) = query()
    current = current or "public"

    def name(schema: str, relation: str) -> str:
        return relation if schema == current else f"{schema}.{relation}"

    tables: dict[str, Any] = {}
    for schema, table, rows, size, rls, force_rls, acl, kind in query():
        if table.startswith(OWN_PREFIX):
            continue
        tables[name(schema, table)] = {
            "columns": {},
            "primary_key": [],
            "indexes": {},
            "constraints": {},
            "triggers": {},
            "rls": {"enabled": bool(rls), "forced": bool(force_rls), "policies": {}},
            "privileges": sorted(acl or []),
            "partitioned": kind == "p",
            "rows": max(int(rows), 0) if rows is not None else None,
            "bytes": int(size or 0),
        }

    def owner(schema: str, table: str) -> dict[str, Any] | None:
        return tables.get(name(schema, table))

    #: Per table read, its columns' names by number (what constraints give).
    numbered: dict[int, dict[int, str]] = {}
    for schema, table, column, kind, nullable, default, identity, generated, number in query():
        entry = owner(schema, table)
        if entry is None:
            continue
        numbered.setdefault(id(entry), {})[number] = column
        entry["columns"][column] = {
            "type": str(kind).lower(),
            "nullable": bool(nullable),
            "default": None if generated else default,
            "identity": {"a": "always", "d": "by default"}.get(identity or "", None),
            "generated": default if generated else None,
        }
    for row in query():
        (schema, table, constraint, kind, validated, deferrable, definition, numbers) = row[:8]
        ref_schema, ref_table, ref_columns, on_update, on_delete = row[8:]
        entry = owner(schema, table)
        if entry is None:
            continue
        # (A number with no column, e.g. 0 for a whole-row reference, names none.)
        known = numbered.get(id(entry), {})
        columns = [known[number] for number in numbers or () if number in known]
        if kind == "p":
            entry["primary_key"] = list(columns)
            continue
        info: dict[str, Any] = {
            "type": _CONSTRAINT_TYPES[kind],
            "columns": list(columns),
            "definition": definition,
            "validated": bool(validated),
            "deferrable": bool(deferrable),
        }
        if kind == "f":
            info["references"] = [name(ref_schema, ref_table), *list(ref_columns or ())]
            info["on_update"] = _FK_ACTIONS.get(on_update, on_update)
            info["on_delete"] = _FK_ACTIONS.get(on_delete, on_delete)
        entry["constraints"][constraint] = info
    for schema, table, index, unique, method, predicate, keys, valid, definition, size in query():
        entry = owner(schema, table)
        if entry is None:
            continue
        columns = [k for k in keys if k]
        entry["indexes"][index] = {
            "columns": columns,
            "unique": bool(unique),
            "method": method,
            "where": predicate,
            "valid": bool(valid),
            "definition": definition,
            "bytes": int(size or 0),
        }
    for schema, table, trigger, definition, enabled in query():
        entry = owner(schema, table)
        if entry is not None:
            entry["triggers"][trigger] = {"definition": definition, "enabled": enabled != "D"}
    for schema, table, policy, permissive, roles, command, using, check in query():
        entry = owner(schema, table)
        if entry is not None:
            entry["rls"]["policies"][policy] = {
                "permissive": permissive,
                "roles": sorted(roles or []),
                "command": command,
                "using": using,
                "check": check,
            }
    enums = {name(s, t): list(labels) for s, t, labels in query()}
    views = {
        name(s, v): {"materialized": kind == "m", "definition": " ".join(str(d).split())}
        for s, v, kind, d in query()
        if not v.startswith(OWN_PREFIX)
    }
    functions = {
        f"{name(s, f)}({args})": {
            "returns": result,
            "kind": {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}.get(
                prokind, prokind
            ),
            "language": language,
            "volatility": _VOLATILITY.get(volatility, volatility),
            "body_md5": body,
        }
        for s, f, args, result, prokind, language, volatility, body in query()
    }
    sequences = {
        name(s, q): {
            "type": kind,
            "start": int(start),
            "increment": int(increment),
            "min": int(minimum),
            "max": int(maximum),
            "cycle": bool(cycle),
            "owned_by": owned,
        }
        for s, q, kind, start, increment, minimum, maximum, cycle, owned in query()
        if not q.startswith(OWN_PREFIX)
    }
    return {
        "vendor": "postgresql",
        "schemas": [s for (s,) in query()],
        "tables": tables,
        "enums": enums,
        "views": views,
        "functions": functions,
        "sequences": sequences,
    }
