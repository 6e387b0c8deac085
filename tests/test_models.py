"""Constraints live in the database, and history tracks definitions and status changes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from migrator.models import Deployment, Migration, SchemaVersion
from migrator.states import (
    DEPLOYMENT_TRANSITIONS,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    TRANSITIONS,
    InvalidTransition,
    Status,
    check_transition,
)

pytestmark = pytest.mark.django_db


def test_one_active_schema_version_per_target() -> None:
    SchemaVersion.objects.create(database="default", version="1", active=True)
    SchemaVersion.objects.create(database="analytics", version="1", active=True)
    SchemaVersion.objects.create(database="default", version="2", active=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        SchemaVersion.objects.create(database="default", version="3", active=True)


def test_unique_version_per_target() -> None:
    SchemaVersion.objects.create(database="default", version="1")
    with pytest.raises(IntegrityError), transaction.atomic():
        SchemaVersion.objects.create(database="default", version="1")
    Migration.objects.create(
        database="default", version="1", name="a", source="x", format="sql", checksum="v1:a"
    )
    Migration.objects.create(
        database="analytics", version="1", name="a", source="x", format="sql", checksum="v1:a"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Migration.objects.create(
            database="default", version="1", name="b", source="y", format="sql", checksum="v1:b"
        )


def test_invalid_status_is_refused_by_the_database() -> None:
    deployment = Deployment.objects.create(direction="forward", requested_by="t")
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).update(status="exploded")


def test_applied_needs_a_checksum() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Migration.objects.create(
            version="1", name="a", source="x", format="sql", checksum="v1:a", applied=True
        )


def test_deployment_status_changes_have_history() -> None:
    deployment = Deployment.objects.create(direction="forward", requested_by="t")
    deployment.status = Status.QUEUED
    deployment.save()
    deployment.status = Status.RUNNING
    deployment.save()
    assert [h.status for h in deployment.history.order_by("history_id")] == [
        "pending",
        "queued",
        "running",
    ]


@pytest.mark.parametrize("table", [DEPLOYMENT_TRANSITIONS, RUN_TRANSITIONS, STEP_TRANSITIONS])
def test_transition_tables_are_closed_and_end_in_terminal_states(table) -> None:
    for state, targets in table.items():
        assert targets <= set(table), f"{state} leads to states the table does not know"
    for finished in (Status.SUCCEEDED, Status.CANCELLED, Status.ROLLED_BACK):
        if finished in table:
            assert not table[finished] or table is STEP_TRANSITIONS
    # Every state can reach a state with no way out (nothing is stuck forever).
    terminal = {state for state, targets in table.items() if not targets}
    for state in table:
        seen, todo = set(), [state]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(table[current])
        assert seen & terminal, f"{state} can never end"


def test_check_transition() -> None:
    assert set(TRANSITIONS) == set(Status) - {Status.SKIPPED}
    check_transition(Status.RUNNING, Status.PAUSING)
    with pytest.raises(InvalidTransition):
        check_transition(Status.SUCCEEDED, Status.RUNNING)
    with pytest.raises(InvalidTransition):
        check_transition(Status.PENDING, Status.SUCCEEDED, STEP_TRANSITIONS)
