"""Fixtures for the Kafka client's tests against a real broker (``kafka_bootstrap_servers``)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

from django_sharegroups.kafka.admin import ShareGroupAdmin

from ..helpers import assigned, wait_for

CONSUMER_CLIENT_ID = "sharegroups-admin-test"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin(kafka_bootstrap_servers: str) -> Iterator[ShareGroupAdmin]:
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as share_group_admin:
        yield share_group_admin


@pytest.fixture
def topic(kafka_bootstrap_servers: str) -> Iterator[str]:
    """A fresh topic with two partitions, deleted afterwards."""
    name = unique("admin-topic")
    kafka_admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    kafka_admin.create_topics([NewTopic(name, 2, 1)])[name].result(30)
    yield name
    kafka_admin.delete_topics([name])[name].exception(30)


@pytest.fixture
def group(admin: ShareGroupAdmin) -> str:
    """A fresh share-group name that starts at the earliest offset once it exists.

    Groups are left behind (unique names make that harmless): deleting them in teardown,
    after their topic is gone, was seen to stall DeleteGroups for the whole request timeout.
    """
    name = unique("admin-group")
    admin.alter_share_group_config(name, {"share.auto.offset.reset": "earliest"})
    return name


@pytest.fixture
def share_consumer(kafka_bootstrap_servers: str):
    """``with share_consumer(group, topic) as consumer:`` a subscribed ShareConsumer (implicit
    acknowledgement). On exit it commits and closes: confluent-kafka 2.16.1's close() alone
    was seen to leave the last poll's records unacknowledged."""

    @contextlib.contextmanager
    def open_consumer(group_id: str, topic_name: str) -> Iterator[ShareConsumer]:
        consumer = ShareConsumer(
            {
                "bootstrap.servers": kafka_bootstrap_servers,
                "group.id": group_id,
                "client.id": CONSUMER_CLIENT_ID,
            }
        )
        consumer.subscribe([topic_name])
        try:
            yield consumer
            consumer.commit_sync(10.0)
        finally:
            consumer.close()

    return open_consumer


def consume(consumer: ShareConsumer, count: int, timeout: float = 30.0) -> list[bytes]:
    """Poll until ``count`` records arrived (implicitly acknowledged by the next poll/close)."""
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        for message in consumer.poll(0.2):
            if message.error() is None:
                values.append(message.value())
    assert len(values) == count, f"consumed {len(values)} of {count} records"
    return values


def wait_for_member(admin: ShareGroupAdmin, consumer: ShareConsumer, group_id: str):
    """Poll the consumer (it joins only while polling) until the group shows it as its one
    member with an assignment."""
    return wait_for(lambda: consumer.poll(0.1) is not None and assigned(admin, group_id))
