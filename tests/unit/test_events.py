"""The event catalog: every event registered with one payload, documented, enforced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_sharegroups.instrumentation import EVENTS, EventBus, UnknownEventError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def documented() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `([a-z_.]+)` \| [^|]* \| (.*) \|$", DOCS.read_text(), re.MULTILINE)
    return {name: set(re.findall(r"`([a-z_]+)`", payload)) for name, payload in rows}


def test_docs_list_every_registered_event_with_its_payload_keys():
    docs = documented()
    assert set(docs) == set(EVENTS)
    for name, shape in EVENTS.items():
        assert set(shape.__annotations__) <= docs[name], name


def test_a_strict_bus_refuses_unregistered_names_and_other_payloads():
    bus = EventBus()
    assert bus.strict  # tests/conftest.py turns it on for the whole suite
    with pytest.raises(UnknownEventError, match="not registered"):
        bus.publish("poll.typo", share_group="g", records=1)
    with pytest.raises(UnknownEventError, match="payload"):
        bus.publish("poll", share_group="g", records=1)
    with pytest.raises(UnknownEventError):
        bus.subscribe("poll.typo", lambda event, payload: None)


def test_wants_tells_whether_an_event_has_a_listener():
    bus = EventBus()
    assert not bus.wants("poll")
    bus.subscribe("acks.sent", lambda event, payload: None)
    assert bus.wants("acks.sent") and not bus.wants("poll")
    bus.subscribe("*", lambda event, payload: None)
    assert bus.wants("poll")


def test_what_an_event_reaches_follows_every_subscription_change():
    """The bus keeps each event's listeners once worked out; a change must still show."""
    bus, calls = EventBus(), []

    class WhileOn:
        on = False

        def active(self) -> bool:
            return self.on

        def __call__(self, event, payload) -> None:
            calls.append(("while on", event))

    def everything(event, payload):
        calls.append(("everything", event))

    conditional = WhileOn()
    bus.subscribe("lock.renewed", conditional)
    assert not bus.wants("lock.renewed")  # worked out and kept: nothing active
    conditional.on = True
    assert bus.wants("lock.renewed")  # active() is asked each time, not kept
    conditional.on = False
    bus.subscribe("*", everything)
    assert bus.wants("lock.renewed")
    bus.publish("lock.renewed", share_group="g", record="t[0]@1")
    assert calls == [("while on", "lock.renewed"), ("everything", "lock.renewed")]
    bus.unsubscribe("*", everything)
    assert not bus.wants("lock.renewed")
    calls.clear()
    bus.unsubscribe("lock.renewed", conditional)
    bus.publish("lock.renewed", share_group="g", record="t[0]@1")
    assert calls == []
