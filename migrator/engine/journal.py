"""State changes of an execution, checked as they happen and written together.

The engine never saves a deployment, run or step run directly: it tells a :class:`Journal`
("this run is now succeeded", "this migration is applied", "this happened") and the
journal writes everything at the next commit point, in bulk: the rows, one simple-history
row per change (with who, why and when) and the events. When the target is migrator's own
database, that commit point is the step's own transaction, so a step's work and its
record commit together (or not at all); a migration then costs one commit of our own.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models, router
from django.db.models.base import ModelState
from django.utils import timezone

from ..audit import change_reason
from ..dialects import Dialect, dialect_for
from ..models import Deployment, Event, Migration, Run, StepRun
from ..states import (
    DEPLOYMENT_TRANSITIONS,
    FINISHED,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    Status,
    check_transition,
)
from . import rows
from .behind import Behind

logger = logging.getLogger("migrator")

_TABLES: dict[type[models.Model], dict[str, frozenset[str]]] = {
    Deployment: DEPLOYMENT_TRANSITIONS,
    Run: RUN_TRANSITIONS,
    StepRun: STEP_TRANSITIONS,
}
#: Keys reserved at once for new rows (step runs: a few per migration).
_KEY_BLOCK = 64
#: States that close an interval (``finished_at`` is set); pausing keeps it open.
_ENDS = FINISHED | {Status.SKIPPED, Status.PAUSED, Status.INTERRUPTED}


def _copy_state(state: ModelState) -> ModelState:
    """A shallow copy of a row's ``_state`` (what ``copy.copy`` makes, without its
    generic protocol: a savepoint copies the state of every row it remembers)."""
    copied = ModelState.__new__(ModelState)
    copied.__dict__.update(state.__dict__)
    return copied


def describe(obj: models.Model) -> str:
    if isinstance(obj, Deployment):
        return f"deployment #{obj.pk}"
    if isinstance(obj, Run):
        return f"run {obj.migration.version} ({obj.direction})"
    if isinstance(obj, StepRun):
        return f"{obj.run.migration.version} step {obj.step_order or obj.order} ({obj.name})"
    return str(obj)


@dataclass
class Awaited:
    """Rows whose values wait for work still running in the flush's transaction (the rows
    a step's statements changed): written after ``settle``, which waits for that work and
    amends them, or raises."""

    rows: Sequence[models.Model]
    settle: Callable[[], None]


@dataclass
class Memento:
    """What a journal held, and its rows looked like, at one moment."""

    new: list[models.Model]
    dirty: dict[int, tuple[models.Model, set[str]]]
    history: list[tuple[models.Model, models.Model]]
    events: list[Event]
    known: dict[int, models.Model]
    objects: list[tuple[models.Model, dict[str, Any], Any]]
    #: Where the group's staged rows were (see :mod:`.behind`), if a group was open.
    staged: int | None = None


class Journal:
    """Buffered state changes of one deployment, written by :meth:`flush`."""

    def __init__(self, deployment: Deployment, *, actor: str | None = None, user_id: Any = None):
        self.deployment = deployment
        self.actor = actor or deployment.requested_by
        self.user_id = user_id if user_id is not None else deployment.requested_by_user_id
        self._new: list[models.Model] = []
        self._dirty: dict[int, tuple[models.Model, set[str]]] = {}
        self._history: list[tuple[models.Model, models.Model]] = []
        self._events: list[Event] = []
        self._known: dict[int, models.Model] = {id(deployment): deployment}
        self._keys: dict[type[models.Model], list[int]] = {}
        #: Told about the events of every flush once written (the live board).
        self.on_events: Callable[[list[Event]], None] | None = None
        #: While a commit group is open: flushes stage their rows there (see .behind).
        self.behind: Behind | None = None

    # -- recording ------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return bool(self._new or self._dirty or self._history or self._events)

    def create(self, obj: models.Model) -> models.Model:
        """A new row, inserted at the next flush (before anything that refers to it)."""
        self._new.append(obj)
        self._known[id(obj)] = obj
        return obj

    def change(self, obj: models.Model, *, reason: str = "", **fields: Any) -> None:
        """Set fields of a row; with ``reason``, also a history row for the change."""
        for name, value in fields.items():
            setattr(obj, name, value)
        self._touch(obj, set(fields))
        if reason:
            self._snapshot(obj, reason)

    def amend(self, obj: models.Model, **fields: Any) -> None:
        """Set fields that belong to the change last recorded for ``obj`` (its history
        row, if it has one waiting, says them too): values learnt after it was recorded."""
        for name, value in fields.items():
            setattr(obj, name, value)
        self._touch(obj, set(fields))
        for row, owner in reversed(self._history):
            if owner is obj:
                for name, value in fields.items():
                    setattr(row, name, value)
                break

    def transition(
        self,
        obj: Deployment | Run | StepRun,
        status: str,
        *,
        message: str = "",
        level: str = "info",
        **fields: Any,
    ) -> None:
        """Move ``obj`` to ``status`` if the transition tables allow it, with an event."""
        previous = obj.status
        if previous == status and not fields:
            return
        if previous != status:
            check_transition(previous, status, _TABLES[type(obj)])
        now = timezone.now()
        changed = {"status", *fields}
        obj.status = status
        for name, value in fields.items():
            setattr(obj, name, value)
        if status == Status.RUNNING and obj.started_at is None:
            obj.started_at = now
            changed.add("started_at")
        if status in _ENDS and "finished_at" not in fields:
            obj.finished_at = now
            changed.add("finished_at")
        elif status == Status.RUNNING and obj.finished_at is not None:
            obj.finished_at = None
            changed.add("finished_at")
        self._touch(obj, changed)
        text = f"{describe(obj)}: {previous} → {status}" + (f": {message}" if message else "")
        self._snapshot(obj, f"{previous} → {status}" + (f": {message}" if message else ""))
        run = obj if isinstance(obj, Run) else getattr(obj, "run", None)
        step_run = obj if isinstance(obj, StepRun) else None
        self.event(
            "status",
            text,
            level=level,
            run=run,
            step_run=step_run,
            at=now,
            previous=previous,
            status=status,
        )

    def event(
        self,
        action: str,
        message: str,
        *,
        level: str = "info",
        run: Run | None = None,
        step_run: StepRun | None = None,
        at: datetime.datetime | None = None,
        **data: Any,
    ) -> None:
        """An event (``at``: when, if not now) with ``data``, written at the next flush."""
        self._events.append(
            rows.build(
                Event,
                time=at or timezone.now(),
                action=action,
                message=message,
                actor=self.actor,
                level=level,
                database=self.deployment.database,
                deployment=self.deployment,
                run=run,
                step_run=step_run,
                data=data,
            )
        )
        logger.log(logging.getLevelName(level.upper()), "%s (%s)", message, self.actor)

    def _touch(self, obj: models.Model, fields: set[str]) -> None:
        self._known[id(obj)] = obj
        if obj.pk is None or any(obj is new for new in self._new):
            return  # inserted whole at the next flush
        key = id(obj)
        if key in self._dirty:
            self._dirty[key][1].update(fields)
        else:
            self._dirty[key] = (obj, set(fields))

    def _snapshot(self, obj: models.Model, reason: str) -> None:
        if rows.historical_model(type(obj)) is None:
            return
        row = rows.history_row(
            obj,
            reason=change_reason(reason),
            user_id=self.user_id,
            kind="~" if obj.pk is not None else "+",
        )
        self._history.append((row, obj))

    # -- writing --------------------------------------------------------------------

    def flush(
        self,
        *,
        wait_for_disk: bool = True,
        commit: bool = False,
        awaited: Awaited | None = None,
        chain: Any = None,
    ) -> None:
        """Write everything recorded, in one transaction (or the caller's, if one is open);
        without ``wait_for_disk``, that transaction's commit does not wait for the disk.
        With ``commit``, the caller's transaction ends with these writes where the
        database can take both in one round trip (nothing may use it after them), and
        the next transaction's statements (``chain``, see ``Dialect.chain_script``)
        follow its COMMIT.

        With ``awaited``: everything not about its rows is sent first, then its
        ``settle`` is called (it amends them, or raises and nothing is committed), then
        its rows."""
        if not self.pending:
            return
        by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        for obj in self._new:
            by_model[type(obj)].append(obj)
        if self.behind is not None:
            # Inside an open commit group: staged, written before it commits.
            if awaited is not None:
                awaited.settle()
            self._write(self.behind, by_model, set(), later=False)
        else:
            self._write_now(
                by_model, wait_for_disk=wait_for_disk, commit=commit, awaited=awaited, chain=chain
            )
        if self.on_events is not None and self._events:
            self.on_events(list(self._events))
        self.discard()

    def _write_now(
        self,
        by_model: dict[type[models.Model], list[models.Model]],
        *,
        wait_for_disk: bool,
        commit: bool,
        awaited: Awaited | None,
        chain: Any = None,
    ) -> None:
        alias = router.db_for_write(Run)
        dialect = dialect_for(alias)
        late = {id(obj) for obj in awaited.rows} if awaited is not None else set()
        with dialect.atomic(savepoint=False):
            for model, objs in by_model.items():
                self._give_keys(dialect, model, objs)
            with dialect.bookkeeping_cursor() as cursor:
                if not wait_for_disk:
                    dialect.commit_without_waiting(cursor)
                writer = rows.Direct(cursor, alias)
                self._write(writer, by_model, late, later=False)
                if awaited is not None:
                    awaited.settle()
                    self._write(writer, by_model, late, later=True)
                if commit:
                    dialect.commit_with(cursor, chain)

    def _write(
        self,
        writer: rows.Direct | Behind,
        by_model: dict[type[models.Model], list[models.Model]],
        late: set[int],
        *,
        later: bool,
    ) -> None:
        """The rows about the objects whose ``id`` is in ``late`` (``later``) or not (and
        the events, which wait for nothing)."""
        for objs in by_model.values():
            writer.insert([obj for obj in objs if (id(obj) in late) == later])
        for key, (obj, fields) in self._dirty.items():
            if (key in late) == later:
                writer.update(obj, fields)
        histories: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        for row, obj in self._history:
            if (id(obj) in late) == later:
                setattr(row, type(obj)._meta.pk.attname, obj.pk)
                histories[type(row)].append(row)
        for history in histories.values():
            writer.insert(history, keys=False)
        if not later:
            writer.insert(self._events, keys=False)

    def _give_keys(
        self, dialect: Dialect, model: type[models.Model], objs: list[models.Model]
    ) -> None:
        """Keys for new rows, from a block reserved ahead where the database can: the
        rows (and those referring to them) then go to the server in one round trip."""
        unkeyed = [obj for obj in objs if obj.pk is None]
        if not unkeyed:
            return
        pool = self._keys.setdefault(model, [])
        if len(pool) < len(unkeyed):
            reserved = dialect.reserve_keys(
                model._meta.db_table, str(model._meta.pk.column), max(len(unkeyed), _KEY_BLOCK)
            )
            if reserved is None:
                return
            pool.extend(reserved)
        for obj in unkeyed:
            obj.pk = pool.pop(0)

    def savepoint(self, *also: models.Model) -> Memento:
        """Remember the buffers and the rows' values (``also``: rows that may be changed
        next), to go back to if a transaction that the journal was flushed into rolls back
        (see :meth:`restore`)."""
        known = dict(self._known)
        rows = [
            *known.values(),
            *(obj for obj in also if id(obj) not in known),
            *(row for row, _ in self._history),
            *self._events,
        ]
        return Memento(
            new=list(self._new),
            dirty={key: (obj, set(fields)) for key, (obj, fields) in self._dirty.items()},
            history=list(self._history),
            events=list(self._events),
            known=known,
            objects=[(obj, dict(obj.__dict__), _copy_state(obj._state)) for obj in rows],
            staged=self.behind.mark() if self.behind is not None else None,
        )

    def restore(self, memento: Memento) -> None:
        """Back to ``memento``: what was recorded since is forgotten, and rows written by a
        flush whose transaction rolled back count as unwritten again."""
        for obj, values, state in memento.objects:
            obj.__dict__.clear()
            obj.__dict__.update(values)
            obj._state = state
        self._new = list(memento.new)
        self._dirty = dict(memento.dirty)
        self._history = list(memento.history)
        self._events = list(memento.events)
        self._known = dict(memento.known)
        if self.behind is not None and memento.staged is not None:
            self.behind.truncate(memento.staged)

    def seal(self) -> None:
        """The step's transaction was released into the group's: what it staged stays."""
        if self.behind is not None:
            self.behind.seal()

    def discard(self) -> None:
        """Forget what was recorded (written, or rolled back with its transaction); rows
        written are no longer tracked, so a long deployment's savepoints stay small."""
        self._new.clear()
        self._dirty.clear()
        self._history.clear()
        self._events.clear()
        self._known = {id(self.deployment): self.deployment}


def record_transition(
    obj: Deployment | Run,
    status: str,
    *,
    actor: str | None = None,
    user_id: Any = None,
    message: str = "",
    level: str = "info",
    **fields: Any,
) -> None:
    """One checked, audited status change, written now (for services)."""
    deployment = obj if isinstance(obj, Deployment) else obj.deployment
    journal = Journal(deployment, actor=actor, user_id=user_id)
    journal.transition(obj, status, message=message, level=level, **fields)
    journal.flush()


def compare_and_set(
    deployment: Deployment,
    expected: set[str] | set[Status] | frozenset[str],
    status: str,
    *,
    actor: str | None = None,
    user_id: Any = None,
    message: str = "",
    level: str = "info",
    **fields: Any,
) -> bool:
    """Move ``deployment`` to ``status`` only if it is still in one of ``expected``.

    The conditional UPDATE is what makes claiming work, recovering a dead worker's work
    and cancelling a queued deployment safe against each other: exactly one of them wins.
    """
    with dialect_for(router.db_for_write(Deployment)).atomic():
        while True:
            current = (
                Deployment.objects.filter(pk=deployment.pk).values_list("status", flat=True).first()
            )
            if current not in expected:
                return False
            # One conditional UPDATE: portable (no SELECT ... FOR UPDATE needed), and
            # whoever changed the status meanwhile makes it match no row.
            if Deployment.objects.filter(pk=deployment.pk, status=current).update(status=status):
                break
        deployment.status = str(current)
        journal = Journal(deployment, actor=actor, user_id=user_id)
        journal.transition(deployment, status, message=message, level=level, **fields)
        journal.flush()
    return True


def touch_migration(journal: Journal, migration: Migration, reason: str, **fields: Any) -> None:
    """Change a migration's applied state, with a history row saying why."""
    journal.change(migration, reason=reason, **fields)
