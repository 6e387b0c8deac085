"""``sql``: forward SQL and optional backward SQL, in one transaction unless told otherwise.

Non-transactional steps (``CREATE INDEX CONCURRENTLY``, ``VACUUM``) run statement by
statement in autocommit; each statement's start and end are checkpointed, so a resumed
step skips what committed and recognises an in-doubt statement that had already taken
effect ("already exists"). Taking back a partly done non-transactional step runs its
backward SQL, tolerating what the forward part never got to create.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from ...dialects import Statement, split_statements
from .. import faults
from ..errors import StepFailed
from ..execution import Deferred
from ..sql import ScriptResult, StatementError, run_statements, send_statements
from .base import StepKind, WayBack
from .statements import changes_rows_only, tables_named

logger = logging.getLogger("migrator")

if TYPE_CHECKING:
    from ...catalog.spec import StepSpec
    from ...dialects import Dialect
    from ...dialects.base import SessionKeeper
    from ..execution import StepExecution


@lru_cache(maxsize=256)
def _tables_of(vendor: str, script: str) -> frozenset[str]:
    """The tables a script names, once per script (planning and backups both ask)."""
    return frozenset(tables_named(split_statements(vendor, script)))


def has_noop_down(step: StepSpec) -> bool:
    """A deliberately empty down part (diesel's empty ``down.sql``): going back does nothing."""
    return bool(step.options.get("noop_down"))


class SqlKind(StepKind):
    name: ClassVar[str] = "sql"
    changes: ClassVar[str] = "schema"

    def transactional_for(self, step: StepSpec, direction: str) -> bool:
        if direction == "forward":
            return self.transactional(step)
        # dbmate sets the transaction per section: the down part may differ.
        return bool(step.options.get("backward_transaction", self.transactional(step)))

    def declared_way_back(self, step: StepSpec) -> WayBack:
        if step.backward.strip() or has_noop_down(step):
            return WayBack.SQL
        return WayBack.NONE

    def missing_way_back(self, step: StepSpec) -> str:
        return "has no backward SQL"

    def describe(self, step: StepSpec, direction: str) -> dict[str, Any]:
        if direction == "forward":
            return {"sql": step.forward}
        return {"sql": step.backward, "noop": has_noop_down(step) and not step.backward.strip()}

    def touched_tables(self, step: StepSpec, dialect: Dialect) -> set[str] | None:
        return set(_tables_of(dialect.vendor, step.forward))

    def only_changes_rows(self, step: StepSpec, dialect: Dialect) -> bool:
        return changes_rows_only(split_statements(dialect.vendor, step.forward))

    def dry_run_obstacle(self, step: StepSpec, dialect: Dialect, direction: str) -> str:
        if (
            not self.transactional_for(step, direction)
            and dialect.dry_run_strategy == "transaction"
        ):
            return "non-transactional: cannot run inside the dry run's transaction"
        return ""

    # -- execution --------------------------------------------------------------------

    def forward(self, ex: StepExecution) -> None:
        self._run(ex, ex.step.forward, validate=bool(ex.step.validation))

    def backward(self, ex: StepExecution) -> None:
        if not ex.step.backward.strip() and not has_noop_down(ex.step):
            raise StepFailed(f"{ex.where}no backward SQL")
        self._run(ex, ex.step.backward, validate=False)

    def undo(self, ex: StepExecution) -> None:
        if not ex.step.backward.strip() and not has_noop_down(ex.step):
            raise StepFailed(f"{ex.where}no backward SQL to undo what it did")
        # A partly done step's backward SQL may name things its forward part never made.
        self._run(ex, ex.step.backward, validate=False, tolerant=ex.partial)

    def _run(
        self, ex: StepExecution, script: str, *, validate: bool, tolerant: bool = False
    ) -> None:
        statements = ex.statements(script)
        ex.progress.start(None)
        # A script may change what migrator's own statements rely on (search_path).
        keeper = ex.dialect.session_keeper(statements)
        transactional = self.transactional_for(ex.step, ex.direction)
        sent = ex.sent_ahead  # already running (see engine/ahead.py)
        if sent is None and transactional and self._may_leave_running(ex, validate, keeper):
            sent = send_statements(ex.dialect, statements, ex.where)
        if sent is not None:
            # The step's record is built while the server runs the script; it waits for
            # the script's outcome before anything of it is final.
            running = sent
            ex.deferred = Deferred(lambda: self._record(ex, running.result()), running.end)
            return
        try:
            if transactional:
                with ex.limits():
                    result = run_statements(ex.dialect, statements, ex.where)
            else:
                result = self._one_by_one(ex, statements, tolerant, keeper)
            if validate:  # inside the step's transaction: a failed check undoes the step
                keeper.theirs()  # the check sees what the script's statements saw
                self.validate(ex, ex.step.validation, "validation")
        except BaseException:
            try:
                keeper.after_failure()
            except Exception:  # noqa: BLE001 - the step's own failure is the one to report
                logger.warning(
                    "%sthe session settings the script changed could not be put back",
                    ex.where,
                    exc_info=True,
                )
            raise
        keeper.ours()
        self._record(ex, result)

    @classmethod
    def _may_leave_running(cls, ex: StepExecution, validate: bool, keeper: SessionKeeper) -> bool:
        return ex.may_defer and cls.nothing_between(ex.step, validate, keeper)

    @staticmethod
    def nothing_between(step: StepSpec, validate: bool, keeper: SessionKeeper) -> bool:
        """Whether nothing runs between the script and the step's record: no validation
        after it, no session setting to put back, no time limits around it."""
        options = step.options
        return (
            not validate
            and not keeper.keeps
            and not options.get("timeout")
            and not options.get("lock_timeout")
        )

    @staticmethod
    def _record(ex: StepExecution, result: ScriptResult) -> None:
        for statement in result.statements:
            ex.note(
                kind="statement",
                sql=statement.sql,
                line=statement.line,
                rows=statement.rows,
                seconds=round(statement.seconds, 6),
            )
        ex.progress.set(result.rows)

    def _one_by_one(
        self,
        ex: StepExecution,
        statements: tuple[Statement, ...],
        tolerant: bool,
        keeper: SessionKeeper,
    ) -> ScriptResult:
        """Autocommit, statement by statement, each checkpointed before and after.

        A script that manages its own transactions (``BEGIN; ...; COMMIT;`` more than
        once) runs its statements, and their checkpoints, inside them: what one commits
        is done, and a transaction that fails or is never ended is rolled back, its
        statements with it, before the step fails saying so."""
        result = ScriptResult()
        #: Line of the statement that began the script's transaction still open.
        begun_at: int | None = None
        try:
            for index, statement in enumerate(statements):
                begun_at = self._checkpointed(
                    ex, f"stmt:{index}", statement, tolerant, keeper, result, begun_at
                )
        except BaseException:
            # Whatever stopped the script, a transaction of its own ends here, undone: the
            # failure's record is written next, on this session.
            ex.dialect.roll_back_script_transaction()
            raise
        if ex.dialect.roll_back_script_transaction():
            raise StepFailed(
                f"{ex.where}the transaction the script begins at line {begun_at} is never "
                "ended (no COMMIT after it): it was rolled back, with the statements after "
                "it; end it with COMMIT"
            )
        return result

    @staticmethod
    def _checkpointed(
        ex: StepExecution,
        loop: str,
        statement: Statement,
        tolerant: bool,
        keeper: SessionKeeper,
        result: ScriptResult,
        begun_at: int | None,
    ) -> int | None:
        """One statement in autocommit between its checkpoints (skipped if it finished
        before); the line of the script's own transaction open after it, if one is."""
        checkpoint = ex.checkpoints.get(loop)
        if checkpoint.finished:
            if ex.dialect.sets_session(statement.sql):
                # Resumed on a new connection: what the script set for its later
                # statements (search_path, lock_timeout) is set again.
                keeper.theirs()
                run_statements(ex.dialect, [statement], ex.where)
                keeper.ours()
            return begun_at
        in_doubt = checkpoint.exists
        ex.checkpoints.write(loop, finished=False)
        keeper.theirs()
        try:
            with ex.limits():
                done = run_statements(ex.dialect, [statement], ex.where)
        except StatementError as exc:
            # Inside a transaction of the script's, nothing more runs: undone before
            # migrator's own statements below need the session.
            if ex.dialect.roll_back_script_transaction():
                exc.add_note_to_message(
                    f"the transaction the script began at line {begun_at or '?'} was "
                    "rolled back, with its statements before this one"
                )
                raise
            if not (in_doubt or tolerant) or not ex.dialect.is_already_done(
                exc.original, statement.sql
            ):
                raise
            ex.note(kind="statement_already_done", sql=statement.sql, line=statement.line)
            done = ScriptResult()
        finally:
            # Before the checkpoint, and the failure's record: their tables are named
            # unqualified.
            keeper.ours()
        faults.point("statement_committed")
        result.statements.extend(done.statements)
        # In the script's transaction, if one is open: it commits with the statement.
        ex.checkpoints.write(loop, done=done.rows, finished=True)
        if not ex.dialect.in_script_transaction():
            return None
        return begun_at or statement.line
