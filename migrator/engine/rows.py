"""Writing the journal's rows with statements compiled once per model.

The ORM compiles a statement on every ``bulk_create`` and ``update`` (about half a
millisecond each): at seven writes per migration, that was most of a small migration's
cost. The rows written are the same; only the SQL is built once per model and field set,
values are prepared by a converter chosen once per field, and (where the database can
hand out keys ahead, see :meth:`~migrator.dialects.base.Dialect.reserve_keys`) new rows
get their key without a round trip, so a whole flush goes to the server at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections, models, router
from django.db.models import QuerySet
from django.db.models.base import ModelState
from django.utils import timezone

from ..audit import change_reason

Converter = Callable[[Any], Any]
M = TypeVar("M", bound=models.Model)

#: Rows per multi-row INSERT (other databases than PostgreSQL and SQLite, see
#: ``_insert_all``): well under the databases' limits on parameters.
_CHUNK = 500 // 30

#: Parameters from which PostgreSQL gets rows one statement each (see ``_insert_all``).
_MULTI_ROW_PARAMS = 50

#: Rows from which PostgreSQL gets them by COPY (a sync of new migrations, the runs of a
#: big deployment): one stream instead of a statement per row.
_COPY_ROWS = 20

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
def _converter(field: models.Field[Any, Any], alias: str) -> Converter | None:
    """How one field's value goes to the database (what ``get_db_prep_save`` does, chosen
    once: that call walks several layers per value); None when the value goes as it is."""
    connection = connections[alias]
    if isinstance(field, models.ForeignKey):
        return _converter(field.target_field, alias)
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        if connection.vendor == "sqlite" and connection.timezone == datetime.UTC:
            return _utc_text(adapt)
        return lambda value: None if value is None else adapt(value)
    if isinstance(field, _PLAIN):
        return None
    if type(field) is models.JSONField:
        return _json(field, connection)
    return lambda value: field.get_db_prep_save(value, connection)


def _json(field: models.JSONField[Any], connection: Any) -> Converter:
    """A JSON column's value: a dict or list (every event's data, every option) goes
    straight to the backend's adapter (what ``get_db_prep_save`` ends in, after four
    layers of checks for expressions and lazy text); anything else takes Django's way."""
    adapt, encoder = connection.ops.adapt_json_value, field.encoder

    def convert(value: Any) -> Any:
        if type(value) is dict or type(value) is list:
            return adapt(value, encoder)
        return field.get_db_prep_save(value, connection)

    return convert


#: Times converted lately, by identity: one time is written several times per migration
#: (a transition's moment is the row's ``started_at``, its event's time and its history
#: row's copy). Each entry keeps its time alive, so its ``id`` cannot be reused meanwhile.
_RECENT_TIMES: dict[int, tuple[datetime.datetime, str]] = {}
_RECENT_TIMES_KEPT = 64


def _utc_text(adapt: Converter) -> Converter:
    """SQLite's text of a time (Django's, for a database in UTC): ``timezone.now()``'s
    values are UTC already, so the conversion Django makes of every value is skipped
    (``isoformat`` of a UTC time ends with ``+00:00``: Django's text is what precedes)."""
    utc = datetime.UTC
    recent = _RECENT_TIMES

    def convert(value: Any) -> Any:
        if value is None:
            return None
        known = recent.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if value.tzinfo is not utc:
            return adapt(value)
        text = value.isoformat(" ")[:-6]
        if len(recent) >= _RECENT_TIMES_KEPT:
            recent.clear()
        recent[id(value)] = (value, text)
        return text

    return convert


class Columns:
    """How a row's values are read for one statement: every column from the instance's
    ``__dict__`` in one C call (every column of a built or loaded row is there;
    ``getattr`` through Django's descriptors costs several times more), then a converter
    where the value needs one and ``pre_save`` where it sets the value on insert
    (``auto_now_add``)."""

    def __init__(self, fields: Sequence[models.Field[Any, Any]], alias: str):
        self.names = tuple(f.attname for f in fields)
        self._get = operator.itemgetter(*self.names) if len(self.names) > 1 else None
        self._converters = tuple(
            (i, convert)
            for i, convert in enumerate(_converter(f, alias) for f in fields)
            if convert is not None
        )
        self._auto = tuple((i, f) for i, f in enumerate(fields) if _sets_on_insert(f))

    def values(self, obj: models.Model, *, inserting: bool = True) -> list[Any]:
        """The row's values, in the order of the statement's columns."""
        stored = obj.__dict__
        try:
            out = list(self._get(stored)) if self._get else [stored[self.names[0]]]
        except KeyError:  # a deferred field: loaded on access
            out = [stored[name] if name in stored else getattr(obj, name) for name in self.names]
        if inserting:
            for i, field in self._auto:
                out[i] = field.pre_save(obj, True)
        for i, convert in self._converters:
            out[i] = convert(out[i])
        return out


def _sets_on_insert(f: models.Field[Any, Any]) -> bool:
    return bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))


@functools.cache
def _insert_sql(
    model: type[models.Model], alias: str, *, with_pk: bool, returning: bool
) -> tuple[str, Columns]:
    quote = connections[alias].ops.quote_name
    fields = tuple(f for f in model._meta.local_concrete_fields if with_pk or not f.primary_key)
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"
    if returning:
        sql += f" RETURNING {quote(str(model._meta.pk.column))}"
    return sql, Columns(fields, alias)


@functools.cache
def historical_model(model: type[models.Model]) -> Any:
    """The simple-history model of ``model`` (None if it keeps no history); looked up once,
    as ``Model.history`` builds a new manager on each access."""
    manager = getattr(model, "history", None)
    return None if manager is None else manager.model


@functools.cache
def _tracked(historical: Any) -> tuple[str, ...]:
    return tuple(f.attname for f in historical.tracked_fields)


def history_row(obj: models.Model, *, reason: str, user_id: Any, kind: str) -> models.Model:
    """The simple-history row of ``obj`` as it is now (``kind``: ``+``, ``~`` or ``-``)."""
    historical = historical_model(type(obj))
    shape = _history_shape(historical)
    values = obj.__dict__
    try:
        picked = shape.pick(values)
    except KeyError:  # a deferred field: loaded on access
        picked = [values[name] if name in values else getattr(obj, name) for name in shape.tracked]
    row = historical.__new__(historical)
    row._state = ModelState()
    fields = row.__dict__
    fields.update(shape.base)
    fields.update(zip(shape.tracked, picked, strict=True))
    for attname, default in shape.fresh:
        fields[attname] = default()
    fields["history_date"] = timezone.now()
    fields["history_user_id"] = user_id
    fields["history_change_reason"] = reason
    fields["history_type"] = kind
    if shape.relation:
        row.history_relation_id = obj.pk
    return row


@dataclasses.dataclass(frozen=True)
class _HistoryShape:
    """What a history row of one model is made of, worked out once (a history row is
    written at every change: several per migration applied)."""

    tracked: tuple[str, ...]
    pick: Callable[[dict[str, Any]], Sequence[Any]]
    #: Defaults of the history's columns that are neither tracked nor set per row.
    base: dict[str, Any]
    fresh: tuple[tuple[str, Any], ...]
    relation: bool


@functools.cache
def _history_shape(historical: Any) -> _HistoryShape:
    tracked = _tracked(historical)
    plain, fresh = _blank(historical)
    given = {*tracked, "history_date", "history_user_id", "history_change_reason", "history_type"}
    getter = operator.itemgetter(*tracked)
    return _HistoryShape(
        tracked=tracked,
        pick=getter if len(tracked) > 1 else (lambda values: (getter(values),)),
        base={name: value for name, value in plain.items() if name not in given},
        fresh=tuple((name, default) for name, default in fresh if name not in given),
        relation=hasattr(historical, "history_relation"),
    )


def create_with_history(objs: Sequence[models.Model], *, reason: str, user_id: Any = None) -> None:
    """Insert new rows of one model, each with its ``+`` history row (what simple-history's
    ``bulk_create_with_history`` writes) if the model keeps history, in one round trip
    where keys can be reserved."""
    if not objs:
        return
    from ..dialects import dialect_for

    model = type(objs[0])
    keeps_history = historical_model(model) is not None
    if user_id is None and keeps_history:
        # Who simple-history itself would name: the user of the request being served.
        user = historical_model(model).get_default_history_user(objs[0])
        user_id = getattr(user, "pk", None)
    alias = router.db_for_write(model)
    dialect = dialect_for(alias)
    with dialect.atomic(savepoint=False):
        unkeyed = [obj for obj in objs if obj.pk is None]
        if unkeyed:
            table, column = model._meta.db_table, str(model._meta.pk.column)
            keys = dialect.keys_for_transaction(table, column, len(unkeyed))
            for obj, key in zip(unkeyed, keys or [], strict=False):
                obj.pk = key
        with dialect.bookkeeping_cursor() as cursor:
            if not keeps_history:
                insert(cursor, alias, objs)
                return
            mapping = _history_mapping(model, alias)
            if mapping is None or any(obj.pk is None for obj in objs):
                insert(cursor, alias, objs)
                history = [
                    history_row(obj, reason=reason, user_id=user_id, kind="+") for obj in objs
                ]
                insert(cursor, alias, history, keys=False)
                return
            _resolve_relations(objs)
            _, fields = _insert_sql(model, alias, with_pk=True, returning=False)
            values = [fields.values(obj) for obj in objs]
            _insert_all(cursor, alias, model, values, with_pk=True)
            _mark_saved(objs, alias)
            extras = {
                "history_date": timezone.now(),
                "history_user_id": user_id,
                "history_change_reason": reason,
                "history_type": "+",
            }
            _insert_all(
                cursor,
                alias,
                historical_model(model),
                mapping.rows(values, extras),
                with_pk=False,
            )


def update_with_history(
    obj: models.Model, *, reason: str, user_id: Any = None, **fields: Any
) -> None:
    """Set ``fields`` of ``obj`` and write them (``auto_now`` times too), with the ``~``
    history row of the change (what ``save()`` and simple-history write)."""
    from ..dialects import dialect_for

    model = type(obj)
    for name, value in fields.items():
        setattr(obj, name, value)
    names = set(fields)
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            setattr(obj, field.attname, timezone.now())
            names.add(field.attname)
    if user_id is None:
        user = historical_model(model).get_default_history_user(obj)
        user_id = getattr(user, "pk", None)
    alias = router.db_for_write(model)
    dialect = dialect_for(alias)
    with dialect.atomic(savepoint=False), dialect.bookkeeping_cursor() as cursor:
        update(cursor, alias, obj, names)
        history = history_row(obj, reason=change_reason(reason), user_id=user_id, kind="~")
        insert(cursor, alias, [history], keys=False)


@dataclasses.dataclass(frozen=True)
class _HistoryMapping:
    """The ``+`` history rows of new rows from the new rows' own values, converted once:
    each column of the history INSERT is a column of the row's INSERT (a tracked field)
    or one of the history's own (date, user, reason, type), the same for every row."""

    sources: tuple[int | str, ...]
    converters: dict[str, Converter | None]

    def rows(self, values: list[list[Any]], extras: dict[str, Any]) -> list[list[Any]]:
        converted = {}
        for name, convert in self.converters.items():
            value = extras[name]
            converted[name] = value if convert is None else convert(value)
        picks = [
            (source, None) if isinstance(source, int) else (-1, converted[source])
            for source in self.sources
        ]
        return [[row[i] if i >= 0 else extra for i, extra in picks] for row in values]


@functools.cache
def _history_mapping(model: type[models.Model], alias: str) -> _HistoryMapping | None:
    """None when the history has columns of its own other than the four known (e.g. a
    ``history_relation``, or extra fields): those rows are built one by one."""
    historical = historical_model(model)
    _, main = _insert_sql(model, alias, with_pk=True, returning=False)
    _, history = _insert_sql(historical, alias, with_pk=False, returning=False)
    position = {name: i for i, name in enumerate(main.names)}
    tracked = set(_tracked(historical))
    own = ("history_date", "history_user_id", "history_change_reason", "history_type")
    sources: list[int | str] = []
    for name in history.names:
        if name in tracked and name in position:
            sources.append(position[name])
        elif name in own:
            sources.append(name)
        else:
            return None
    converters = {
        f.attname: _converter(f, alias)
        for f in historical._meta.local_concrete_fields
        if f.attname in own
    }
    if set(converters) != set(own):
        return None
    return _HistoryMapping(tuple(sources), converters)


@functools.cache
def _blank(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """Every concrete field's default: the plain ones as a dict to copy, and
    ``(attname, callable)`` of those made fresh for each row."""
    plain: dict[str, Any] = {}
    fresh = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            fresh.append((f.attname, f.default))
        else:
            plain[f.attname] = f.get_default()
    return plain, tuple(fresh)


@functools.cache
def _relations(model: type[models.Model]) -> dict[str, str]:
    """Foreign key name -> its column's attribute name (``run`` -> ``run_id``)."""
    return {
        f.name: f.attname for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)
    }


def build(model: type[M], **values: Any) -> M:
    """A new, unsaved row of ``model``, as ``model(**values)`` makes it, without the cost of
    ``Model.__init__`` (which walks every field and descriptor: most of the cost of an
    audit row). A related object that has no key yet is resolved when it is inserted."""
    obj = model.__new__(model)
    state = ModelState()
    obj._state = state
    fields = obj.__dict__
    plain, fresh = _blank(model)
    fields.update(plain)
    for attname, default in fresh:
        if attname not in values:
            fields[attname] = default()
    relations = _relations(model)
    for name, value in values.items():
        column = relations.get(name)
        if column is None:
            fields[name] = value
        elif value is not None:
            fields[column] = value.pk
            state.fields_cache[name] = value
    return obj


def load(
    queryset: QuerySet[M], related: str, *, related_only: Sequence[str] | None = None
) -> list[M]:
    """What iterating ``queryset.select_related(related)`` gives (``related``: a foreign
    key), each instance made from its row's values as :func:`build` makes one:
    ``Model.__init__`` per row is most of the cost of loading a thousand runs with their
    migrations, or migrations with the runs that applied them. ``related_only``: the
    related rows' fields to read (with their key; the others are deferred, as with
    ``only()``)."""
    model = queryset.model
    field = model._meta.get_field(related)
    assert isinstance(field, models.ForeignKey), related
    other = field.related_model
    assert isinstance(other, type)
    own = [f.attname for f in model._meta.concrete_fields]
    theirs = [
        f.attname
        for f in other._meta.concrete_fields
        if related_only is None or f.primary_key or f.attname in related_only
    ]
    alias = queryset.db
    count = len(own)
    key = count + theirs.index(other._meta.pk.attname)
    loaded = []
    for values in queryset.values_list(*own, *(f"{related}__{name}" for name in theirs)):
        obj = _loaded(model, own, values[:count], alias)
        obj._state.fields_cache[related] = (
            None if values[key] is None else _loaded(other, theirs, values[count:], alias)
        )
        loaded.append(obj)
    return loaded


def loaded(model: type[M], alias: str, **values: Any) -> M:
    """An instance of a row read from ``alias`` with ``values`` (attribute names); the
    fields not given are deferred, as with ``only()``."""
    return _loaded(model, list(values), list(values.values()), alias)


def _loaded(model: type[M], names: list[str], values: Sequence[Any], alias: str) -> M:
    obj = model.__new__(model)
    state = obj._state = ModelState()
    state.adding, state.db = False, alias
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


def _resolve_relations(objs: Sequence[models.Model]) -> None:
    """Keys of related rows that were new when ``objs`` were made (``step_run_id`` of an
    event about a step run inserted in the same flush)."""
    relations = _relations(type(objs[0]))
    for obj in objs:
        cached = obj._state.fields_cache
        for name, attname in relations.items():
            related = cached.get(name)
            if related is not None and getattr(obj, attname) is None:
                setattr(obj, attname, related.pk)


def insert(cursor: Any, alias: str, objs: Sequence[models.Model], *, keys: bool = True) -> None:
    """Insert ``objs`` (all of one model) with ``cursor``. A row without a primary key
    gets one from the database, set on the object when ``keys`` (rows others refer to)."""
    if not objs:
        return
    model = type(objs[0])
    _resolve_relations(objs)
    keyed = [obj for obj in objs if obj.pk is not None]
    unkeyed = [obj for obj in objs if obj.pk is None]
    if keyed:
        _, fields = _insert_sql(model, alias, with_pk=True, returning=False)
        _insert_all(cursor, alias, model, [fields.values(obj) for obj in keyed], with_pk=True)
    if unkeyed and not keys:
        _, fields = _insert_sql(model, alias, with_pk=False, returning=False)
        _insert_all(cursor, alias, model, [fields.values(obj) for obj in unkeyed], with_pk=False)
    elif unkeyed:
        # One statement each: RETURNING from a multi-row insert has no promised order.
        sql, fields = _insert_sql(model, alias, with_pk=False, returning=True)
        for obj in unkeyed:
            cursor.execute(sql, fields.values(obj))
            obj.pk = cursor.fetchone()[0]
    _mark_saved(objs, alias)


class Direct:
    """Rows written now, with ``cursor`` (what :class:`~migrator.engine.behind.Behind`
    is for rows written later)."""

    def __init__(self, cursor: Any, alias: str):
        self.cursor = cursor
        self.alias = alias

    def insert(self, objs: Sequence[models.Model], *, keys: bool = True) -> None:
        insert(self.cursor, self.alias, objs, keys=keys)

    def update(self, obj: models.Model, names: set[str]) -> None:
        update(self.cursor, self.alias, obj, names)


def insert_values(alias: str, objs: Sequence[models.Model]) -> list[tuple[bool, list[Any]]]:
    """``(with its key, values)`` of each row ``insert`` would write for ``objs`` (all of
    one model; a row without a key gets one from the database), the rows marked saved."""
    if not objs:
        return []
    model = type(objs[0])
    _resolve_relations(objs)
    out = []
    for obj in objs:
        with_pk = obj.pk is not None
        _, fields = _insert_sql(model, alias, with_pk=with_pk, returning=False)
        out.append((with_pk, fields.values(obj)))
    _mark_saved(objs, alias)
    return out


def insert_rows(
    cursor: Any, alias: str, model: type[models.Model], rows: list[list[Any]], *, with_pk: bool
) -> None:
    """Insert rows of values as given by :func:`insert_values`."""
    _insert_all(cursor, alias, model, rows, with_pk=with_pk)


def update_values(alias: str, obj: models.Model, names: set[str]) -> dict[str, Any]:
    """``{column attribute: value}`` that ``update`` would write for ``obj``."""
    _, columns = _update_sql(type(obj), alias, frozenset(names))
    return dict(zip(columns.names, columns.values(obj, inserting=False), strict=True))


def update_rows(
    cursor: Any,
    alias: str,
    model: type[models.Model],
    rows: list[tuple[Any, dict[str, Any]]],
) -> None:
    """``UPDATE`` rows given as ``(key, {attribute: value})``, all with the same
    attributes, with one statement."""
    sql, columns = _update_sql(model, alias, frozenset(rows[0][1]))
    params = [[values[name] for name in columns.names] + [key] for key, values in rows]
    if len(params) == 1:
        cursor.execute(sql, params[0])
    else:
        cursor.executemany(sql, params)


def _mark_saved(objs: Sequence[models.Model], alias: str) -> None:
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def _insert_all(
    cursor: Any, alias: str, model: type[models.Model], rows: list[list[Any]], *, with_pk: bool
) -> None:
    """Insert ``rows`` (values in the order of the model's INSERT columns): on PostgreSQL a
    COPY of many rows, or one prepared statement executed per row in the pipeline; on
    SQLite the one-row statement stepped per row; elsewhere a multi-row INSERT per chunk
    (one statement for the server to parse and run)."""
    sql, fields = _insert_sql(model, alias, with_pk=with_pk, returning=False)
    postgresql = _vendor(alias) == "postgresql"
    if postgresql and len(rows) >= _COPY_ROWS:
        with cursor.copy(_copy_sql(model, alias, with_pk=with_pk)) as copy:
            for row in rows:
                copy.write_row(row)
        return
    if postgresql and len(rows) * len(fields.names) > _MULTI_ROW_PARAMS:
        # One prepared statement and a Bind/Execute per row, in the writer's pipeline:
        # multi-row INSERTs of every size up to _COPY_ROWS would each be a statement
        # prepared on the connection.
        cursor.executemany(sql, rows)
        return
    if _vendor(alias) == "sqlite" and len(rows) > 1:
        # SQLite compiles a statement again after every schema change (a migration's
        # DDL), and a multi-row INSERT compiles each row's values: the one-row statement
        # stepped once per row costs less, and as little in bulk.
        cursor.executemany(sql, rows)
        return
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        cursor.execute(
            _rows_sql(model, alias, with_pk=with_pk, count=len(chunk)),
            [value for row in chunk for value in row],
        )


@functools.cache
def _vendor(alias: str) -> str:
    return str(connections[alias].vendor)


@functools.cache
def _rows_sql(model: type[models.Model], alias: str, *, with_pk: bool, count: int) -> str:
    """The INSERT of ``count`` rows at once."""
    sql, _ = _insert_sql(model, alias, with_pk=with_pk, returning=False)
    head, marks = sql.split(" VALUES ", 1)
    return f"{head} VALUES {', '.join([marks] * count)}"


@functools.cache
def _copy_sql(model: type[models.Model], alias: str, *, with_pk: bool) -> str:
    sql, _ = _insert_sql(model, alias, with_pk=with_pk, returning=False)
    head = sql.split(" VALUES ", 1)[0]
    return f"COPY {head.removeprefix('INSERT INTO ')} FROM STDIN"


def update(cursor: Any, alias: str, obj: models.Model, names: set[str]) -> None:
    """``UPDATE`` the named fields of ``obj``'s row."""
    sql, columns = _update_sql(type(obj), alias, frozenset(names))
    cursor.execute(sql, [*columns.values(obj, inserting=False), obj.pk])


@functools.cache
def _update_sql(
    model: type[models.Model], alias: str, names: frozenset[str]
) -> tuple[str, Columns]:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    fields = sorted((_field(meta, name) for name in names), key=lambda f: str(f.column))
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s"
    return sql, Columns(fields, alias)


def _field(meta: Any, name: str) -> models.Field[Any, Any]:
    field = meta.get_field(name)
    assert isinstance(field, models.Field), name  # a column of this model, not a relation
    return field
