"""The pytest plugin users get: an in-memory broker fixture and ``consume_all``."""

import json
import threading

import pytest

from django_sharegroups import ShareGroupConsumer, share_group, topic
from django_sharegroups.clients.memory import ArchiveReason
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.testing.plugin import consume_all


def produce_order(broker, payload):
    return broker.produce("example-orders", json.dumps(payload).encode())


def test_consume_all_runs_the_example_group_to_completion(sharegroups_broker):
    sharegroups_broker.create_topic("example-orders", 2)
    produce_order(sharegroups_broker, {"order_id": 1, "amount": 5})
    produce_order(sharegroups_broker, {"order_id": 2, "fail": "transient"})
    rejected_at = produce_order(sharegroups_broker, {"amount": 1})

    consume_all("example-orders", broker=sharegroups_broker)

    archived = {
        (record.partition, record.offset): record.reason
        for record in sharegroups_broker.archived_records("example-orders")
    }
    assert archived[rejected_at] == ArchiveReason.REJECTED
    assert sorted(archived.values()) == sorted(
        [ArchiveReason.REJECTED, ArchiveReason.DELIVERY_COUNT_EXCEEDED]
    )


def test_consume_all_reports_a_group_that_does_not_settle(sharegroups_broker):
    release = threading.Event()

    class Stuck(ShareGroupConsumer):
        def consume(self, messages):
            release.wait(5)
            for message in messages:
                self.mark_accepted(message)

    group = share_group("stuck", topics=[topic("stuck", consumer=Stuck)], registry=RouteRegistry())
    sharegroups_broker.create_topic("stuck", 1)
    sharegroups_broker.produce("stuck", b"{}")
    threading.Timer(0.5, release.set).start()
    with pytest.raises(AssertionError, match="still has unacknowledged records"):
        consume_all(group, broker=sharegroups_broker, timeout=0.2)
