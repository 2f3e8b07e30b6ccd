"""The test services work: real Kafka 4.4 and librdkafka's mock both serve share groups.

Each share-consumer behaviour the project relies on is checked on both peers, so a test
written against the fast mock means the same thing on the real broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import AcknowledgeType, KafkaException, Message, ShareConsumer

from django_sharegroups.testing.mock_cluster import MockCluster, MockClusterError
from tests.helpers import numbered, produce
from tests.services import kafka as kafka_service
from tests.services import require_or_skip


@dataclass
class SharePeer:
    """Either peer behind one interface: where to connect and how to prepare a test."""

    name: str
    bootstrap_servers: str
    new_topic: Callable[[int], str]
    new_group: Callable[..., str]  # new_group(lock_ms=None, delivery_count_limit=None)
    mock: MockCluster | None = None


@pytest.fixture(
    params=[
        pytest.param("kafka", marks=pytest.mark.kafka),
        pytest.param("mock", marks=pytest.mark.mock_cluster),
    ]
)
def peer(request: pytest.FixtureRequest) -> Iterator[SharePeer]:
    if request.param == "mock":
        with MockCluster() as mock:
            mock.set_share_group(heartbeat_interval_ms=500)  # as on the test broker

            def mock_topic(partitions: int) -> str:
                name = kafka_service.unique_name("test")
                mock.create_topic(name, partitions)
                return name

            def mock_group(lock_ms: int | None = None, delivery_count_limit: int | None = None):
                mock.set_share_group(
                    auto_offset_reset="earliest",
                    record_lock_duration_ms=lock_ms,
                    delivery_count_limit=delivery_count_limit,
                )
                return kafka_service.unique_name("group")

            yield SharePeer("mock", mock.bootstrap_servers, mock_topic, mock_group, mock)
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap_servers")
    topic = request.getfixturevalue("kafka_topic")
    configure = request.getfixturevalue("share_group_config")

    def kafka_group(lock_ms: int | None = None, delivery_count_limit: int | None = None) -> str:
        group = kafka_service.unique_name("group")
        configs: dict[str, str | int] = {"share.auto.offset.reset": "earliest"}
        if lock_ms is not None:
            configs["share.record.lock.duration.ms"] = lock_ms
        if delivery_count_limit is not None:
            configs["share.delivery.count.limit"] = delivery_count_limit
        configure(group, configs)
        return group

    yield SharePeer("kafka", bootstrap, topic, kafka_group)


def share_consumer(
    bootstrap_servers: str, group: str, topic: str, **config: object
) -> ShareConsumer:
    consumer = ShareConsumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
            **config,
        }
    )
    consumer.subscribe([topic])
    return consumer


def poll_until(
    consumer: ShareConsumer,
    handle: Callable[[Message], AcknowledgeType],
    done: Callable[[], bool],
    timeout: float = 30.0,
) -> None:
    """Poll, acknowledge each record as ``handle`` says, commit; stop when ``done()``."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        messages = consumer.poll(0.5)
        for message in messages:
            assert message.error() is None, message.error()
            consumer.acknowledge(message, handle(message))
        if messages:
            consumer.commit_sync()


def test_every_offset_is_delivered_exactly_once(peer: SharePeer) -> None:
    topic, group = peer.new_topic(3), peer.new_group()
    produce(peer.bootstrap_servers, topic, numbered(100), spread=3)
    seen: list[tuple[int, int, int]] = []

    def accept(message: Message) -> AcknowledgeType:
        seen.append((message.partition(), message.offset(), message.delivery_count()))
        return AcknowledgeType.ACCEPT

    consumer = share_consumer(peer.bootstrap_servers, group, topic)
    try:
        poll_until(consumer, accept, done=lambda: len(seen) >= 100)
        poll_until(consumer, accept, done=lambda: False, timeout=1.0)  # nothing more comes
    finally:
        consumer.close()
    expected = {(partition, offset) for partition in range(3) for offset in range(34)}
    expected -= {(1, 33), (2, 33)}  # 100 records round-robin: 34 + 33 + 33
    assert sorted((p, o) for p, o, _ in seen) == sorted(expected)
    assert {count for *_, count in seen} == {1}


def test_release_redelivers_with_delivery_count_two(peer: SharePeer) -> None:
    topic, group = peer.new_topic(1), peer.new_group()
    produce(peer.bootstrap_servers, topic, numbered(1), partition=0)
    deliveries: list[int] = []

    def release_first(message: Message) -> AcknowledgeType:
        deliveries.append(message.delivery_count())
        return AcknowledgeType.RELEASE if len(deliveries) == 1 else AcknowledgeType.ACCEPT

    consumer = share_consumer(peer.bootstrap_servers, group, topic)
    try:
        poll_until(consumer, release_first, done=lambda: len(deliveries) >= 2)
    finally:
        consumer.close()
    assert deliveries == [1, 2]


def test_delivery_count_limit_archives_the_record(peer: SharePeer) -> None:
    topic, group = peer.new_topic(1), peer.new_group(delivery_count_limit=2)
    produce(peer.bootstrap_servers, topic, numbered(1), partition=0)
    deliveries: list[int] = []

    def always_release(message: Message) -> AcknowledgeType:
        deliveries.append(message.delivery_count())
        return AcknowledgeType.RELEASE

    consumer = share_consumer(peer.bootstrap_servers, group, topic)
    try:
        poll_until(consumer, always_release, done=lambda: len(deliveries) >= 2)
        poll_until(consumer, always_release, done=lambda: False, timeout=2.0)
    finally:
        consumer.close()
    assert deliveries == [1, 2]


def test_lock_expiry_hands_the_record_to_another_member(peer: SharePeer) -> None:
    topic, group = peer.new_topic(1), peer.new_group(lock_ms=1000)
    produce(peer.bootstrap_servers, topic, numbered(1), partition=0)
    holder = share_consumer(peer.bootstrap_servers, group, topic)
    other = None
    counts: list[int] = []
    try:
        deadline = time.monotonic() + 30
        held: list[Message] = []
        while not held and time.monotonic() < deadline:
            held = list(holder.poll(0.5))  # acquired and never acknowledged
        assert [message.delivery_count() for message in held] == [1]
        # Join the second member only now: the mock gives a partition to one member, and it
        # must not be the one that never polls the record.
        other = share_consumer(peer.bootstrap_servers, group, topic)
        started = time.monotonic()
        if peer.mock is not None:  # the mock gives a partition to one member: share it
            members: list[str] = []
            while len(members) < 2 and time.monotonic() < deadline:
                other.poll(0.2)
                members = peer.mock.share_group_member_ids(group)
            peer.mock.assign_share_group(group, {member: [(topic, 0)] for member in members})

        def accept(message: Message) -> AcknowledgeType:
            counts.append(message.delivery_count())
            return AcknowledgeType.ACCEPT

        poll_until(other, accept, done=lambda: bool(counts), timeout=20)
        assert counts == [2]
        assert time.monotonic() - started >= 0.5  # only after the 1 s lock ran out
    finally:
        if other is not None:
            other.close()
        holder.close()


def test_polling_again_without_acknowledging_is_refused(mock_cluster: MockCluster) -> None:
    from confluent_kafka import IllegalStateException

    mock_cluster.create_topic("orders", 1)
    produce(mock_cluster.bootstrap_servers, "orders", numbered(2), partition=0)
    consumer = share_consumer(mock_cluster.bootstrap_servers, "workers", "orders")
    try:
        messages: list[Message] = []
        while not messages:
            messages = list(consumer.poll(0.5))
        with pytest.raises(IllegalStateException, match="have not been acknowledged"):
            consumer.poll(0.1)
    finally:
        consumer.close()


def test_mock_cluster_reports_errors_and_members(mock_cluster: MockCluster) -> None:
    mock_cluster.create_topic("orders", 2)
    with pytest.raises(MockClusterError, match="create_topic"):
        mock_cluster.create_topic("orders", 2)
    with pytest.raises(TypeError, match="unknown share-group settings"):
        mock_cluster.set_share_group(lock_ms=5)
    assert mock_cluster.share_group_member_ids("nobody") == []
    consumer = share_consumer(mock_cluster.bootstrap_servers, "workers", "orders")
    try:
        deadline = time.monotonic() + 10
        while not mock_cluster.share_group_member_ids("workers") and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert len(mock_cluster.share_group_member_ids("workers")) == 1
    finally:
        consumer.close()


@pytest.mark.kafka
def test_broker_has_share_groups_enabled(kafka_bootstrap_servers: str) -> None:
    reason = kafka_service.unavailable_reason()
    if reason is not None:
        require_or_skip("kafka", f"FeatureCommand needs Java and the jars: {reason}")
    features = kafka_service.finalized_features(kafka_bootstrap_servers)
    assert features.get("share.version", 0) >= 1, features


@pytest.mark.kafka
def test_share_group_configs_are_set_per_group(kafka_admin, share_group_config) -> None:
    group = kafka_service.unique_name("group")
    share_group_config(
        group,
        {
            "share.auto.offset.reset": "earliest",
            "share.record.lock.duration.ms": 1000,
            "share.delivery.count.limit": 3,
        },
    )
    configs = kafka_service.describe_share_group_config(kafka_admin, group)
    assert configs["share.auto.offset.reset"] == "earliest"
    assert configs["share.record.lock.duration.ms"] == "1000"
    assert configs["share.delivery.count.limit"] == "3"
    with pytest.raises(KafkaException, match="share.record.lock.duration.ms"):
        share_group_config(group, {"share.record.lock.duration.ms": 999})


@pytest.mark.postgres
def test_postgres_accepts_the_test_role(postgres_database_url: str) -> None:
    try:
        import psycopg
    except ImportError:
        require_or_skip("postgres", "psycopg is not installed (pip install 'psycopg[binary]')")
    with psycopg.connect(postgres_database_url, connect_timeout=10) as connection:
        row = connection.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (True,)  # Django creates its test database itself


def test_cluster_ids_never_start_with_a_dash():
    """Kafka's storage tool reads ``--cluster-id -…`` as a missing value (it failed a CI run)."""
    ids = [kafka_service._kafka_uuid() for _ in range(2000)]
    assert not [text for text in ids if text.startswith("-")]
    assert all(len(text) == 22 for text in ids)
