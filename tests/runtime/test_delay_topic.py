"""The delay topic's ``max_hold_ms`` (docs/retries.md): a copy not due within it goes back to
the end of the delay topic instead of holding a worker (and its lock) until due."""

from __future__ import annotations

import threading

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.processing.delay_topic import (
    DELIVER_AT,
    ORIGIN_TOPIC,
    DelayTopicConsumer,
    release_to_delay_topic,
)

from ..helpers import declare, prepare, produce, running, wait_for

DELAY_MS = 1500


class ShortHold(DelayTopicConsumer):
    """Holds a copy at most 200 ms; records every copy it was handed."""

    max_hold_ms = 200
    handed: list[int] = []

    def consume(self, messages):
        type(self).handed.extend(message.offset for message in messages)
        super().consume(messages)


def test_a_copy_due_later_than_max_hold_ms_is_requeued_until_due(memory_broker):
    prepare(memory_broker, "orders")
    prepare(memory_broker, "orders-delay")
    ShortHold.handed = []
    lock = threading.Lock()
    seen: list[tuple[int, list]] = []

    class Orders(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                with lock:
                    first_time = not seen
                    seen.append((message.offset, list(message.raw_headers)))
                if first_time:
                    release_to_delay_topic(self, message, DELAY_MS, "orders-delay")
                else:
                    self.mark_accepted(message)

    orders = declare("orders", Orders)
    delayer = declare("orders-delay", ShortHold, topic_options={"deserializer": "raw"})
    with running([orders, delayer], memory_broker):
        produce(memory_broker, "orders", [{"n": 1}], headers=[("trace", b"t-1")])
        wait_for(lambda: len(seen) >= 2)
    parked = memory_broker.read_records("orders-delay", 0)
    due_ms = int(dict(parked[0].headers)[DELIVER_AT])
    # Handed over at once (1.5 s before due), the copy went back at least once: the delay
    # topic holds it more than once, all with the same due time and origin.
    assert len(parked) >= 2 and ShortHold.handed == [r.offset for r in parked]
    assert {dict(r.headers)[DELIVER_AT] for r in parked} == {str(due_ms).encode()}
    assert {dict(r.headers)[ORIGIN_TOPIC] for r in parked} == {b"orders"}
    # ...and came back to its origin once, after it was due, without the delay headers.
    [original, copy] = memory_broker.read_records("orders", 0)
    assert copy.value == original.value and copy.timestamp_ms >= due_ms
    assert [offset for offset, _ in seen] == [0, 1]
    assert seen[1][1] == [("trace", b"t-1")]
