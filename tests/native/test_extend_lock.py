"""``extend_lock`` by hand on the native adapter against real Kafka 4.4 (KIP-1222 RENEW): a job
three locks long that renews its record keeps it, and its ACCEPT is taken once."""

from __future__ import annotations

import time

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus

from ..helpers import declare, events_of, kafka_settled, produce, running, wait_for

pytestmark = pytest.mark.kafka

LOCK_MS = 1000


@pytest.mark.parametrize("extend", [True, False])
def test_extend_lock_keeps_a_job_of_three_locks(
    kafka_bootstrap_servers, share_topic, extend
) -> None:
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    produce(kafka_bootstrap_servers, name, [{"n": 0}])
    bus = EventBus()
    expired, failed = events_of(bus, "lock.expired"), events_of(bus, "acks.failed")
    deliveries: list[int] = []

    class Long(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                deliveries.append(message.delivery_count)
                if message.delivery_count == 1:
                    for _ in range(12):  # 3 s: three locks, renewed every quarter lock
                        time.sleep(LOCK_MS / 4000)
                        if extend:
                            self.extend_lock(message)
                self.mark_accepted(message)

    group = declare(name, Long, client="native", topic_options={"auto_renew": False})
    with running([group], kafka_bootstrap_servers, bus=bus, client="native"):
        wait_for(lambda: kafka_settled(kafka_bootstrap_servers, name))
    if extend:
        assert deliveries == [1]
        assert expired == [] and failed == []
    else:  # the control: without extend_lock the lock runs out and the record comes back
        assert deliveries[:2] == [1, 2]
        assert expired
