"""What happened to each record: run a share group through the real engine on the in-memory
broker and assert, per record, that it was accepted, released (with a delay), rejected,
dead-lettered or had its lock extended — with failure messages that tell the record's story.

::

    def test_transient_failures_are_retried(sharegroups_run):
        run = sharegroups_run("webhooks")
        ok = run.produce({"url": "https://example.com/ok"})
        flaky = run.produce({"url": "https://example.com/flaky"})
        run.until_settled()
        run.assert_accepted(ok)
        run.assert_released(flaky, times=2)

The story comes from the broker itself (every acquisition, acknowledgement, expiry and
archive), so it is exactly what Kafka would have been told; delayed releases and dead letters
come from the engine's events.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..clients.memory import BrokerEvent, EventKind, ManualClock, MemoryBroker, MemoryClientFactory
from ..conf import get_settings
from ..instrumentation import EventBus, events
from ..routing import ShareGroup, registry
from ..runtime.runner import ShareConsumerRunner

__all__ = ["RecordRef", "RecordStory", "ShareGroupRun"]


@dataclass(frozen=True)
class RecordRef:
    """A produced record's coordinates."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass
class RecordStory:
    """Everything that happened to one record, in order."""

    ref: RecordRef
    steps: list[str] = field(default_factory=list)
    deliveries: int = 0
    acknowledgements: list[str] = field(default_factory=list)
    archived_reason: str | None = None
    delays_ms: list[int] = field(default_factory=list)
    dead_letter_topic: str | None = None

    @property
    def outcome(self) -> str:
        """``accepted``, ``rejected``, ``dead_lettered``, ``archived`` (delivery limit or lock
        expiry at the limit), ``available`` (released, waiting for redelivery), ``in_flight``
        or ``not_delivered``."""
        if self.dead_letter_topic is not None:
            return "dead_lettered"
        if self.archived_reason == "REJECTED":
            return "rejected"
        if self.archived_reason is not None:
            return "archived"
        if self.acknowledgements and self.acknowledgements[-1] == "ACCEPT":
            return "accepted"
        if not self.deliveries:
            return "not_delivered"
        last = self.steps[-1] if self.steps else ""
        return "in_flight" if last.startswith(("delivered", "RENEW")) else "available"

    def __str__(self) -> str:
        story = " → ".join(self.steps) if self.steps else "never delivered"
        return f"{self.ref}: {story}"


class ShareGroupRun:
    """One declared share group running on an in-memory broker, with every record's story.

    ``clock`` (a ``ManualClock``) makes acquisition locks expire only when the test calls
    ``advance``; delayed releases follow the engine's own timers (keep them short in tests).
    """

    def __init__(
        self,
        share_group: str | ShareGroup,
        *,
        broker: MemoryBroker | None = None,
        clock: ManualClock | None = None,
        partitions: int = 1,
        bus: EventBus = events,
    ) -> None:
        self.group = registry.get(share_group) if isinstance(share_group, str) else share_group
        self.clock = clock
        self.broker = broker or MemoryBroker(clock=clock)
        self.bus = bus
        self._stories: dict[RecordRef, RecordStory] = {}
        self._lock = threading.Lock()
        for name in self.group.topic_names:
            if name not in self.broker.topics():
                self.broker.create_topic(name, partitions)
        self.broker.alter_group_config(self.group.name, {"share.auto.offset.reset": "earliest"})
        self.broker.add_listener(self._on_broker_event)
        self.bus.subscribe("release.delayed", self._on_delayed_release)
        self.bus.subscribe("dlq.dispatched", self._on_dead_letter)
        self._subscribed = True
        self._runner: ShareConsumerRunner | None = None

    # -- driving the run -------------------------------------------------------------------

    def produce(
        self,
        payload: Any,
        *,
        key: bytes | str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        topic: str | None = None,
    ) -> RecordRef:
        """Produce one record (``payload`` is JSON-encoded unless it is bytes or str) to the
        group's only topic, or ``topic``; starts the group on first use."""
        name = topic or self._only_topic()
        value = payload if isinstance(payload, bytes | str) else json.dumps(payload).encode()
        partition, offset = self.broker.produce(name, value, key=key, headers=headers)
        ref = RecordRef(name, partition, offset)
        self._story(ref)
        self.start()
        return ref

    def start(self) -> None:
        if self._runner is None:
            self._runner = ShareConsumerRunner(
                [self.group],
                # The project's settings (mirroring included), on the in-memory broker.
                settings=replace(get_settings(), client="memory", poll_timeout=0.05),
                factories={"memory": MemoryClientFactory(self.broker)},
                bus=self.bus,
            )
            self._runner.start()

    def until_settled(self, timeout: float = 10.0) -> ShareGroupRun:
        """Wait until every produced record is acknowledged or archived."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.broker.is_settled(self.group.name, self.group.topic_names):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"share group {self.group.name!r} did not settle within {timeout}s:\n"
                    + self.report()
                )
            time.sleep(0.01)
        return self

    def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait for ``condition()``, e.g. ``lambda: run.story(ref).deliveries == 2``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s:\n{self.report()}")
            time.sleep(0.01)

    def advance(self, seconds: float) -> None:
        """Move the broker clock (lock expiry); needs ``clock=ManualClock()``."""
        if self.clock is None:
            raise RuntimeError("advance() needs ShareGroupRun(..., clock=ManualClock())")
        self.clock.advance(seconds)

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.shutdown()
            self._runner = None
        if self._subscribed:
            self._subscribed = False
            self.broker.remove_listener(self._on_broker_event)
            self.bus.unsubscribe("release.delayed", self._on_delayed_release)
            self.bus.unsubscribe("dlq.dispatched", self._on_dead_letter)

    def __enter__(self) -> ShareGroupRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- reading and asserting ---------------------------------------------------------------

    def story(self, ref: RecordRef) -> RecordStory:
        with self._lock:
            return self._story(ref)

    def stories(self) -> Iterator[RecordStory]:
        with self._lock:
            return iter(sorted(self._stories.values(), key=lambda s: _sort_key(s.ref)))

    def report(self) -> str:
        return "\n".join(f"  {story}" for story in self.stories()) or "  (no records)"

    def assert_accepted(self, ref: RecordRef) -> None:
        self._expect(ref, "accepted")

    def assert_rejected(self, ref: RecordRef) -> None:
        self._expect(ref, "rejected")

    def assert_archived(self, ref: RecordRef, reason: str | None = None) -> None:
        """Archived by the broker without a REJECT (delivery limit, lock expiry at limit)."""
        story = self._expect(ref, "archived")
        if reason is not None and story.archived_reason != reason:
            self._fail(story, f"archived because {reason}")

    def assert_dead_lettered(self, ref: RecordRef, topic: str | None = None) -> None:
        story = self._expect(ref, "dead_lettered")
        if topic is not None and story.dead_letter_topic != topic:
            self._fail(story, f"dead-lettered to {topic!r}")

    def assert_released(
        self, ref: RecordRef, *, times: int | None = None, delay_ms: int | None = None
    ) -> None:
        """Released at least once (exactly ``times`` if given); ``delay_ms``: one of the
        releases was delayed by that much (within the engine's clamping)."""
        story = self.story(ref)
        released = story.acknowledgements.count("RELEASE")
        if not released or (times is not None and released != times):
            self._fail(story, f"released {times if times is not None else 'at least once'}")
        if delay_ms is not None and delay_ms not in story.delays_ms:
            self._fail(story, f"released with a delay of {delay_ms} ms")

    def assert_lock_extended(self, ref: RecordRef, times: int | None = None) -> None:
        story = self.story(ref)
        renewed = story.acknowledgements.count("RENEW")
        if not renewed or (times is not None and renewed != times):
            self._fail(story, f"lock extended {times if times is not None else 'at least once'}")

    def _expect(self, ref: RecordRef, outcome: str) -> RecordStory:
        story = self.story(ref)
        if story.outcome != outcome:
            self._fail(story, outcome.replace("_", "-"))
        return story

    def _fail(self, story: RecordStory, expected: str) -> None:
        raise AssertionError(
            f"{story.ref} was expected to be {expected}, but it is {story.outcome}:\n"
            f"  {story}\nAll records of {self.group.name!r}:\n{self.report()}"
        )

    # -- listeners ---------------------------------------------------------------------------

    def _only_topic(self) -> str:
        names = self.group.topic_names
        if len(names) != 1:
            raise ValueError(f"{self.group.name!r} has topics {names}: pass topic=")
        return names[0]

    def _story(self, ref: RecordRef) -> RecordStory:
        story = self._stories.get(ref)
        if story is None:
            story = self._stories[ref] = RecordStory(ref)
        return story

    def _on_broker_event(self, event: BrokerEvent) -> None:
        if event.group_id != self.group.name or event.topic is None:
            return
        assert event.partition is not None and event.offset is not None
        ref = RecordRef(event.topic, event.partition, event.offset)
        with self._lock:
            story = self._story(ref)
            if event.kind == EventKind.ACQUIRED:
                story.deliveries = event.delivery_count or story.deliveries + 1
                story.steps.append(f"delivered #{story.deliveries}")
            elif event.kind in _ACKNOWLEDGEMENTS:
                story.acknowledgements.append(_ACKNOWLEDGEMENTS[event.kind])
                story.steps.append(_ACKNOWLEDGEMENTS[event.kind])
            elif event.kind == EventKind.LOCK_EXPIRED:
                story.steps.append("lock expired")
            elif event.kind == EventKind.ARCHIVED:
                story.archived_reason = event.reason
                story.steps.append(f"archived ({event.reason})")

    def _on_delayed_release(self, event: str, payload: dict[str, Any]) -> None:
        ref = _ref_from_payload(payload)
        if ref is not None:
            with self._lock:
                story = self._story(ref)
                story.delays_ms.append(int(payload.get("delay_ms", 0)))
                story.steps.append(f"held for a delayed release of {payload.get('delay_ms')} ms")

    def _on_dead_letter(self, event: str, payload: dict[str, Any]) -> None:
        if payload.get("share_group") != self.group.name:
            return
        ref = RecordRef(payload["topic"], payload["partition"], payload["offset"])
        with self._lock:
            story = self._story(ref)
            story.dead_letter_topic = payload["dlq_topic"]
            story.steps.append(f"copied to {payload['dlq_topic']}")


_ACKNOWLEDGEMENTS = {
    EventKind.ACCEPTED: "ACCEPT",
    EventKind.RELEASED: "RELEASE",
    EventKind.REJECTED: "REJECT",
    EventKind.RENEWED: "RENEW",
}


def _sort_key(ref: RecordRef) -> tuple[str, int, int]:
    return (ref.topic, ref.partition, ref.offset)


def _ref_from_payload(payload: dict[str, Any]) -> RecordRef | None:
    """``record`` is written ``topic[partition]@offset`` in the engine's events."""
    record = payload.get("record")
    if not isinstance(record, str) or "[" not in record or "@" not in record:
        return None
    topic, rest = record.split("[", 1)
    partition, offset = rest.split("]@", 1)
    return RecordRef(topic, int(partition), int(offset.split()[0].rstrip(",")))
