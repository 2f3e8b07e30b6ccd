"""Broker events for listeners."""

from __future__ import annotations

from django_sharegroups.clients.memory import BrokerEvent, EventKind, ManualClock, MemoryBroker

from ..helpers import numbered, produce
from .helpers import ACCEPT, GROUP, REJECT, RELEASE, TOPIC, MakeMember, earliest


def test_listeners_see_every_state_change_in_order(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    events: list[BrokerEvent] = []
    manual_broker.add_listener(events.append)
    earliest(manual_broker, extra={"share.delivery.count.limit": 2})
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    records = consumer.poll(10, 0)
    consumer.acknowledge(records[0], ACCEPT)
    consumer.acknowledge(records[1], REJECT)
    consumer.acknowledge(records[2], RELEASE)
    consumer.poll(10, 0)
    clock.advance(30)
    summary = [(e.kind, e.offset, e.delivery_count, e.reason) for e in events]
    assert summary == [
        (EventKind.MEMBER_JOINED, None, None, None),
        (EventKind.ACQUIRED, 0, 1, None),
        (EventKind.ACQUIRED, 1, 1, None),
        (EventKind.ACQUIRED, 2, 1, None),
        (EventKind.ACCEPTED, 0, 1, None),
        (EventKind.REJECTED, 1, 1, None),
        (EventKind.ARCHIVED, 1, 1, "REJECTED"),
        (EventKind.RELEASED, 2, 1, None),
        (EventKind.ACQUIRED, 2, 2, None),
        (EventKind.LOCK_EXPIRED, 2, 2, None),
        (EventKind.ARCHIVED, 2, 2, "DELIVERY_COUNT_EXCEEDED"),
    ]
    assert all(e.group_id == GROUP for e in events)
    assert {e.member_id for e in events} == {consumer.member_id}
    assert {e.topic for e in events if e.offset is not None} == {TOPIC}


def test_a_failing_listener_is_logged_and_others_still_run(
    manual_broker: MemoryBroker, member: MakeMember, caplog
) -> None:
    seen: list[EventKind] = []

    def broken(event: BrokerEvent) -> None:
        raise RuntimeError("boom")

    manual_broker.add_listener(broken)
    manual_broker.add_listener(lambda event: seen.append(event.kind))
    member()
    assert seen == [EventKind.MEMBER_JOINED]
    assert "boom" in caplog.text


def test_a_listener_may_call_back_into_the_broker(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    states = []
    manual_broker.add_listener(
        lambda event: (
            states.append(manual_broker.describe_share_group(GROUP).state)
            if event.kind is EventKind.MEMBER_JOINED
            else None
        )
    )
    member()
    assert states == ["Stable"]


def test_removed_listeners_hear_nothing(manual_broker: MemoryBroker, member: MakeMember) -> None:
    seen: list[BrokerEvent] = []
    manual_broker.add_listener(seen.append)
    manual_broker.remove_listener(seen.append)
    member()
    assert seen == []
