"""Writing the journal's rows with statements compiled once per model.

The ORM compiles a statement on every ``bulk_create`` and ``update`` (about half a
millisecond each): at seven writes per migration, that was most of a small migration's
cost. The rows written are the same; only the SQL is built once per model and field set,
values are prepared by a converter chosen once per field, and (where the database can
hand out keys ahead, see :meth:`~migrator.dialects.base.Dialect.reserve_keys`) new rows
get their key without a round trip, so a whole flush goes to the server at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models

Converter = Callable[[Any], Any]

#: Rows per INSERT statement (well under the databases' limits on parameters).
_CHUNK = 500 // 30

#: Fields whose Python value is what the drivers take as is.
_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.FloatField,
    models.AutoField,
    models.BigAutoField,
)


@functools.cache
def _converter(field: models.Field[Any, Any], alias: str) -> Converter:
    """How one field's value goes to the database (what ``get_db_prep_save`` does, chosen
    once: that call walks several layers per value)."""
    connection = connections[alias]
    if isinstance(field, models.ForeignKey):
        return _converter(field.target_field, alias)
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda value: None if value is None else adapt(value)
    if isinstance(field, _PLAIN):
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


@functools.cache
def _insert_sql(
    model: type[models.Model], alias: str, *, with_pk: bool, returning: bool
) -> tuple[str, tuple[tuple[models.Field[Any, Any], Converter], ...]]:
    quote = connections[alias].ops.quote_name
    fields = tuple(f for f in model._meta.local_concrete_fields if with_pk or not f.primary_key)
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"
    if returning:
        sql += f" RETURNING {quote(str(model._meta.pk.column))}"
    return sql, tuple((f, _converter(f, alias)) for f in fields)


def insert(cursor: Any, alias: str, objs: Sequence[models.Model], *, keys: bool = True) -> None:
    """Insert ``objs`` (all of one model) with ``cursor``. A row without a primary key
    gets one from the database, set on the object when ``keys`` (rows others refer to)."""
    if not objs:
        return
    model = type(objs[0])
    keyed = [obj for obj in objs if obj.pk is not None]
    unkeyed = [obj for obj in objs if obj.pk is None]
    if keyed:
        _insert_all(cursor, alias, model, keyed, with_pk=True)
    if unkeyed and not keys:
        _insert_all(cursor, alias, model, unkeyed, with_pk=False)
    elif unkeyed:
        # One statement each: RETURNING from a multi-row insert has no promised order.
        sql, fields = _insert_sql(model, alias, with_pk=False, returning=True)
        for obj in unkeyed:
            cursor.execute(sql, _values(obj, fields))
            obj.pk = cursor.fetchone()[0]
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def _insert_all(
    cursor: Any, alias: str, model: type[models.Model], objs: list[models.Model], *, with_pk: bool
) -> None:
    """One multi-row INSERT per chunk (one statement for the server to parse and run,
    where ``executemany`` sends one per row)."""
    sql, fields = _insert_sql(model, alias, with_pk=with_pk, returning=False)
    head, marks = sql.split(" VALUES ", 1)
    for start in range(0, len(objs), _CHUNK):
        chunk = objs[start : start + _CHUNK]
        cursor.execute(
            f"{head} VALUES {', '.join([marks] * len(chunk))}",
            [value for obj in chunk for value in _values(obj, fields)],
        )


def update(cursor: Any, alias: str, obj: models.Model, names: set[str]) -> None:
    """``UPDATE`` the named fields of ``obj``'s row."""
    quote = connections[alias].ops.quote_name
    meta = obj._meta
    fields = sorted((_field(meta, name) for name in names), key=lambda f: str(f.column))
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    params = [_converter(f, alias)(getattr(obj, f.attname)) for f in fields]
    cursor.execute(
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s",
        [*params, obj.pk],
    )


def _field(meta: Any, name: str) -> models.Field[Any, Any]:
    field = meta.get_field(name)
    assert isinstance(field, models.Field), name  # a column of this model, not a relation
    return field


def _values(
    obj: models.Model, fields: tuple[tuple[models.Field[Any, Any], Converter], ...]
) -> list[Any]:
    # pre_save: what the ORM stores on insert (auto_now_add and auto_now fields set now).
    return [convert(f.pre_save(obj, True)) for f, convert in fields]
