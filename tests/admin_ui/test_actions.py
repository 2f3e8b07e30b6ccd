"""The audit guarantees of the dangerous actions, with a stand-in admin client (no Kafka)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import DatabaseError

from django_sharegroups.admin_tools import actions
from django_sharegroups.kafka import OffsetReset, ShareGroupOffsetsReset, SharePartitionOffsets
from django_sharegroups.kafka.errors import NonEmptyGroupError
from django_sharegroups.models import ShareGroupAuditEntry

pytestmark = pytest.mark.django_db

ACTOR = actions.Actor("alice", "cli")


class StandInAdmin:
    """Records what reached the "broker" and what the audit log held at that moment."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls: list[str] = []
        self.outcomes_seen: list[list[str]] = []

    def share_group_offsets(self, group_id: str) -> list[SharePartitionOffsets]:
        return [SharePartitionOffsets("orders", 0, 5, 9, 4)]

    def reset_share_group_offsets(self, group_id, to, *, topics=None, dry_run=False):
        self.calls.append(f"reset dry_run={dry_run}")
        self.outcomes_seen.append(
            list(ShareGroupAuditEntry.objects.values_list("outcome", flat=True))
        )
        if self.refuse and not dry_run:
            raise NonEmptyGroupError("Group orders is not empty.", context="resetting")
        return ShareGroupOffsetsReset(group_id, dry_run, (OffsetReset("orders", 0, 5, 0),))


def test_the_entry_is_written_before_the_broker_is_asked() -> None:
    admin = StandInAdmin()
    actions.reset_offsets(admin, "orders", "earliest", actor=ACTOR)
    assert admin.outcomes_seen == [["started"]]
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.outcome, entry.actor, entry.source) == ("succeeded", "alice", "cli")
    assert entry.parameters == {"to": "earliest", "topics": None, "requested": {"orders:0": 0}}
    assert entry.before == [
        {"topic": "orders", "partition": 0, "start_offset": 5, "log_end_offset": 9, "lag": 4}
    ]


def test_no_database_no_action() -> None:
    admin = StandInAdmin()
    with mock.patch.object(ShareGroupAuditEntry, "save", side_effect=DatabaseError("no table")):
        with pytest.raises(DatabaseError):
            actions.reset_offsets(admin, "orders", "earliest", actor=ACTOR)
    assert admin.calls == []


def test_a_refusal_is_recorded_and_reraised() -> None:
    admin = StandInAdmin(refuse=True)
    with pytest.raises(NonEmptyGroupError):
        actions.reset_offsets(admin, "orders", "latest", actor=ACTOR)
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.outcome, entry.error_name) == ("failed", "NON_EMPTY_GROUP")
    assert entry.error_message == "Group orders is not empty."
    assert "requested" not in entry.parameters


def test_dry_runs_leave_no_entry() -> None:
    admin = StandInAdmin()
    plan = actions.reset_offsets(admin, "orders", "earliest", actor=ACTOR, dry_run=True)
    assert plan.dry_run
    assert admin.calls == ["reset dry_run=True"]
    assert not ShareGroupAuditEntry.objects.exists()
