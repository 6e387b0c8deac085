"""Plans: the ordered migrations a deployment would run, after every preflight check, with
an honest account of how it could be taken back.

For a forward plan each migration gets its *way back* (exact by backward SQL, exact by
captured data, by backup, or none). Where one has none, the plan takes a backup of what it
touches if that is enough to undo it; else runs the whole deployment as one transaction
where the database allows; else says the automatic rollback may stop partway, which the
operator must accept (``--allow-partial-rollback``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog, MigrationSpec, load_catalog
from ..catalog.versions import key_of
from ..conf import BACKUP_MODES, migrator_settings
from ..dialects import Dialect, dialect_for
from ..engine.backups import backup_can_undo
from ..engine.coverage import captured_rows, obstacles, restorable_backup, rollback_way
from ..engine.kinds import WayBack, kind_for, worst
from ..engine.rows import load as load_rows
from ..engine.target import Target
from ..exceptions import BadInput, OperationFailed
from ..heap import long_lived_frozen
from ..models import Migration
from .common import check_database, holder, require_tables
from .status import MigrationState, migration_states

#: How a forward deployment can be taken back if it fails.
EXACT, ATOMIC, PARTIAL, OFF = "exact", "atomic", "partial", "off"


@dataclass
class PlannedRun:
    version: str
    name: str
    direction: str
    source: str
    steps: list[dict[str, Any]]
    restore_backup: int | None = None
    way_back: str = WayBack.NONE.value
    backup: bool = False
    kind: str = ""
    risk: str = "low"
    release: str = ""
    requires_downtime: bool = False
    description: str = ""
    #: Backward runs: rows of captured values the rollback puts back.
    captured_rows: int = 0


@dataclass
class Plan:
    """What a deployment would do, in order, after every preflight check passed."""

    database: str
    direction: str
    goal: str | None
    runs: list[PlannedRun] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: How an automatic rollback of a failed forward deployment would go (see module doc).
    guarantee: str = EXACT
    atomic: bool = False
    uncovered: list[str] = field(default_factory=list)
    #: The first pending migration migrator cannot run: the plan stops before it.
    blocked_by: dict[str, str] | None = None
    catalog: Catalog | None = field(default=None, repr=False)

    @property
    def risk(self) -> str:
        levels = ["low", "medium", "high"]
        return max((r.risk for r in self.runs), key=levels.index, default="low")

    @property
    def backup_versions(self) -> list[str]:
        return [r.version for r in self.runs if r.backup]

    def as_dict(self, step: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> dict[str, Any]:
        """The plan as JSON, each step as ``step`` makes it (a copy of all of it)."""
        return {
            "database": self.database,
            "direction": self.direction,
            "goal": self.goal,
            # Shallow copies (``asdict`` deep-copies: a thousand runs took 0.1 s).
            "runs": [{**vars(r), "steps": [step(s) for s in r.steps]} for r in self.runs],
            "warnings": self.warnings,
            "risk": self.risk,
            "rollback": {
                "guarantee": self.guarantee,
                "atomic": self.atomic,
                "uncovered": self.uncovered,
                "backups": self.backup_versions,
            },
            "blocked_by": self.blocked_by,
        }

    def outline(self) -> dict[str, Any]:
        """The plan without its steps' SQL and code (which the catalog rows keep, with
        their history): what the audit event of a new deployment records."""
        return self.as_dict(step=lambda s: {key: s[key] for key in _OUTLINED if key in s})


#: What the outline keeps of each step.
_OUTLINED = ("order", "name", "kind", "transaction")


def step_summary(spec: MigrationSpec, direction: str) -> list[dict[str, Any]]:
    steps = list(enumerate(spec.steps, start=1))
    if direction == "backward":
        steps.reverse()
    return [
        {
            "order": order,
            "name": step.name,
            "kind": step.kind,
            "transaction": step.transactional,
            **kind_for(step.kind).describe(step, direction),
        }
        for order, step in steps
    ]


@long_lived_frozen()
def plan(
    database: str,
    *,
    to: str | None = None,
    direction: str = "forward",
    count: int | None = None,
    atomic: bool | None = None,
    auto_rollback: bool | None = None,
    backup: str | None = None,
) -> Plan:
    """The ordered migrations for moving ``database``; raises if a preflight check fails."""
    require_tables()
    check_database(database)
    if direction not in ("forward", "backward"):
        raise BadInput(f"direction must be forward or backward, not {direction!r}")
    if count is not None and (direction == "forward" or to is not None):
        raise BadInput("--steps is for a rollback without --to: give --to or --steps, not both")
    if count is not None and count < 1:
        raise BadInput("--steps must be 1 or more")
    if backup is not None and backup not in BACKUP_MODES:
        raise BadInput(f"unknown backup mode {backup!r}: use one of {', '.join(BACKUP_MODES)}")
    catalog = load_catalog()
    states = migration_states(catalog, database)
    drifted = [s for s in states if s.state == "drifted"]
    if drifted:
        names = ", ".join(f"{s.version} ({s.source})" for s in drifted)
        raise OperationFailed(
            f"drifted migrations on {database}: {names}; restore them or run `migrator repair`"
        )
    busy = holder(database)
    if busy:
        raise OperationFailed(f"{database} is busy: {busy}")
    result = Plan(database=database, direction=direction, goal=to, catalog=catalog)
    if (
        to is not None
        and catalog.get(database, to) is None
        and not Migration.objects.filter(database=database, version=to).exists()
    ):
        known = [s.version for s in states]
        raise BadInput(f"unknown version {to!r} for database {database!r}; known: {known}")
    if direction == "forward":
        _plan_forward(result, catalog, states, to)
        _forward_guarantee(result, catalog, atomic, auto_rollback, backup)
    else:
        if atomic:
            raise BadInput("--atomic is for apply; a rollback runs migration by migration")
        _plan_backward(result, catalog, states, to, count)
    return result


def _planned(spec: MigrationSpec, direction: str, source: str) -> PlannedRun:
    return PlannedRun(
        version=spec.version,
        name=spec.name,
        direction=direction,
        source=source,
        steps=step_summary(spec, direction),
        kind=spec.effective_kind,
        risk=spec.risk,
        release=spec.release,
        requires_downtime=spec.requires_downtime,
        description=spec.description,
    )


def _plan_forward(
    result: Plan, catalog: Catalog, states: list[MigrationState], to: str | None
) -> None:
    applied = {s.version for s in states if s.state == "applied"}
    if to is not None and to in applied:
        current = max((key_of(v) for v in applied), default=None)
        if current is not None and key_of(to) < current:
            raise BadInput(
                f"{to} is already applied and older than the current version: use "
                f"`migrator rollback --to {to}`"
            )
    planned: set[str] = set()
    prepared: set[str] = set()
    dialect = dialect_for(result.database)
    # What a step touches is worked out (parsing its SQL) only for migrations before the
    # last one whose preflight needs it.
    readers = [
        index
        for index, state in enumerate(states)
        if state.state == "pending"
        and any(kind_for(step.kind).reads_prepared for step in _spec(catalog, result, state).steps)
    ]
    track_until = max(readers, default=-1)
    for index, state in enumerate(states):
        if state.state not in ("pending", "unsupported"):
            continue
        if to is not None and not state.repeatable and key_of(state.version) > key_of(to):
            continue
        spec = _spec(catalog, result, state)
        if spec.unsupported:
            result.blocked_by = {"version": spec.version, "reason": spec.unsupported}
            result.warnings.append(
                f"stops before {spec.version} ({spec.source}): {spec.unsupported}; run it with "
                f"its own tool, then `migrator mark-done {spec.version} --reason ...`"
            )
            break
        missing = [d for d in spec.depends_on or [] if d not in applied and d not in planned]
        if missing:
            raise OperationFailed(
                f"{spec.version} depends on {', '.join(missing)}, which is neither applied nor planned"
            )
        if state.out_of_order:
            result.warnings.append(
                f"{spec.version} is older than the current version (out of order)"
            )
        _preflight(spec, dialect, prepared if index <= track_until else None)
        planned.add(spec.version)
        result.runs.append(_forward_run(spec))
    if result.runs:
        _add_callbacks(result, catalog, states, dialect)


def _forward_run(spec: MigrationSpec) -> PlannedRun:
    run = _planned(spec, "forward", str(spec.source))
    run.way_back = worst([step.way_back for step in spec.steps]).value
    return run


def _add_callbacks(
    result: Plan, catalog: Catalog, states: list[MigrationState], dialect: Dialect
) -> None:
    """Flyway's SQL callbacks of ``migrate``, at their events: ``beforeMigrate`` first,
    ``afterVersioned`` after the last versioned migration, ``beforeRepeatables`` before the
    first repeatable one, ``afterMigrate`` and then ``afterMigrateApplied`` last. Only in a
    deployment that applies something (Flyway fires ``afterMigrate`` even when nothing is
    pending; a deployment of callbacks alone would be due on every ``apply``)."""
    by_event: dict[str, list[PlannedRun]] = {}
    for state in states:
        if state.state == "callback":
            spec = _spec(catalog, result, state)
            _preflight(spec, dialect, None)
            run = _forward_run(spec)
            # A failed deployment's rollback takes back its migrations, not its callbacks
            # (as Flyway's): nothing of theirs is undone.
            run.way_back = WayBack.NOTHING.value
            by_event.setdefault(spec.callback, []).append(run)
    if not by_event:
        return
    repeatable = {s.version for s in states if s.repeatable}
    versioned = [run for run in result.runs if run.version not in repeatable]
    repeatables = [run for run in result.runs if run.version in repeatable]
    result.runs = [
        *by_event.get("beforeMigrate", []),
        *versioned,
        *by_event.get("afterVersioned", []),
        *(by_event.get("beforeRepeatables", []) if repeatables else []),
        *repeatables,
        *by_event.get("afterMigrate", []),
        *by_event.get("afterMigrateApplied", []),
    ]


def _spec(catalog: Catalog, result: Plan, state: MigrationState) -> MigrationSpec:
    spec = catalog.get(result.database, state.version)
    assert spec is not None
    return spec


def _preflight(spec: MigrationSpec, dialect: Dialect, prepared: set[str] | None) -> None:
    """Each step's kind checks what it can before anything runs (a transform's table and
    columns); tables the migration touches count as prepared for the ones after it
    (``None``: no later step needs to know)."""
    problems = []
    if not spec.options.get("foreign_keys", True) and not dialect.can_disable_foreign_keys:
        problems.append(
            f"{spec.source}: asks to run with foreign keys off, which {dialect.display_name} "
            "cannot do for one migration (make the constraints DEFERRABLE instead)"
        )
    for order, step in enumerate(spec.steps, start=1):
        kind = kind_for(step.kind)
        for problem in kind.preflight(step, dialect, prepared if prepared is not None else set()):
            problems.append(f"{spec.source}: step {order} ({step.name}, {step.kind}): {problem}")
        if prepared is not None:
            touched = kind.touched_tables(step, dialect)
            # A step that cannot tell what it touches (python) may prepare anything.
            prepared |= touched if touched is not None else {"*"}
    if problems:
        raise BadInput("\n".join(problems))


def _forward_guarantee(
    result: Plan,
    catalog: Catalog,
    atomic: bool | None,
    auto_rollback: bool | None,
    backup: str | None,
) -> None:
    """Decide how a failed forward deployment would be taken back (see the module doc)."""
    target = Target(result.database)
    dialect = dialect_for(result.database)
    specs = [catalog.get(result.database, run.version) for run in result.runs]
    can_be_atomic = dialect.transactional_ddl and all(
        spec is not None
        and spec.options.get("foreign_keys", True)
        and all(step.transactional for step in spec.steps)
        for spec in specs
    )
    if atomic:
        if not can_be_atomic:
            blockers = [
                f"{spec.version} step {order}"
                for spec in specs
                if spec is not None
                for order, step in enumerate(spec.steps, start=1)
                if not step.transactional
            ] or ["a migration with foreign keys off"]
            raise BadInput(
                "--atomic needs every step to run inside one transaction; these cannot: "
                + ", ".join(blockers)
            )
        result.atomic = True
        result.guarantee = ATOMIC
        return
    if not (migrator_settings.AUTO_ROLLBACK if auto_rollback is None else auto_rollback):
        result.guarantee = OFF
        return
    mode = backup or migrator_settings.BACKUP
    for run, spec in zip(result.runs, specs, strict=True):
        if run.way_back != WayBack.NONE.value or spec is None:
            continue
        if mode == "auto" and backup_can_undo(spec, target):
            run.backup = True
            run.way_back = WayBack.BACKUP.value
        elif mode in ("touched", "tables"):
            run.way_back = WayBack.BACKUP.value
        else:
            result.uncovered.append(run.version)
    if not result.uncovered:
        return
    if can_be_atomic:
        result.atomic = True
        result.guarantee = ATOMIC
        result.warnings.append(
            f"{', '.join(result.uncovered)} cannot be undone step by step: the deployment "
            "runs as one transaction, so a failure undoes everything"
        )
        return
    result.guarantee = PARTIAL
    result.warnings.append(
        f"no way back for {', '.join(result.uncovered)}: if a later step fails, the automatic "
        "rollback stops there (pass --allow-partial-rollback to accept)"
    )


def _plan_backward(
    result: Plan,
    catalog: Catalog,
    states: list[MigrationState],
    to: str | None,
    count: int | None,
) -> None:
    applied = [s for s in states if s.state in ("applied", "missing") and not s.repeatable]
    if to is not None:
        chosen = [s for s in applied if key_of(s.version) > key_of(to)]
    else:
        chosen = applied[-(count or 1) :] if applied else []
    target = Target(result.database)
    # One query for all of them, with the runs that applied them (what rollback restores),
    # matched by version key: a file renamed from V1__ to V1.0__ is still the row of 1.
    wanted = {key_of(state.version) for state in chosen}
    migrations = {
        key: migration
        for migration in load_rows(
            # (Only which run applied it: rolling back reads that run's captured values.)
            Migration.objects.filter(database=result.database),
            "applied_run",
            related_only=[],
        )
        if (key := key_of(migration.version)) in wanted
    }
    for state in reversed(chosen):
        if state.state == "missing":
            raise OperationFailed(
                f"{state.version} cannot be rolled back: its file {state.source} is gone"
            )
        spec = catalog.get(result.database, state.version)
        assert spec is not None
        migration = migrations[key_of(spec.version)]
        way = rollback_way(migration, spec, target)
        run = _planned(spec, "backward", str(spec.source))
        run.way_back = way.value
        run.captured_rows = captured_rows(migration, spec, target)
        if way is WayBack.NONE:
            raise OperationFailed(
                f"{spec.version} ({spec.source}) cannot be rolled back: "
                + "; ".join(obstacles(migration, spec, target))
                + ". No backup of it exists either."
            )
        if way is WayBack.BACKUP:
            backup = restorable_backup(migration)
            assert backup is not None
            run.restore_backup = backup.pk
            result.warnings.append(
                f"{spec.version}: {'; '.join(obstacles(migration, spec, target))}: "
                f"backup #{backup.pk} will be restored"
            )
        result.runs.append(run)
