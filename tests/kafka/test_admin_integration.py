"""ShareGroupAdmin against a real Kafka 4.4 broker, with real confluent_kafka share consumers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer

from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.kafka.errors import (
    GroupIdNotFoundError,
    InvalidConfigError,
    NonEmptyGroupError,
    UnknownTopicOrPartitionError,
)
from django_sharegroups.kafka.results import TopicPartition

from ..helpers import numbered, produce, wait_for
from .conftest import CONSUMER_CLIENT_ID, consume, unique, wait_for_member

pytestmark = pytest.mark.kafka


def spso(admin: ShareGroupAdmin, group: str) -> dict[TopicPartition, int | None]:
    return {
        TopicPartition(entry.topic, entry.partition): entry.start_offset
        for entry in admin.share_group_offsets(group)
    }


def total_lag(admin: ShareGroupAdmin, group: str) -> int | None:
    lags = [entry.lag for entry in admin.share_group_offsets(group)]
    if not lags or None in lags:
        return None
    return sum(lags)


def consume_all_and_close(share_consumer, group: str, topic: str, count: int) -> list[bytes]:
    with share_consumer(group, topic) as consumer:
        return consume(consumer, count)


def test_list_and_describe_show_a_running_consumer(admin, group, topic, share_consumer) -> None:
    with share_consumer(group, topic) as consumer:
        description = wait_for_member(admin, consumer, group)
        listed = {listing.group_id: listing for listing in admin.list_share_groups()}

    assert listed[group].state == "Stable"
    assert description.state == "Stable"
    assert description.group_epoch >= 1
    assert description.assignor_name
    (member,) = description.members
    assert member.client_id == CONSUMER_CLIENT_ID
    assert member.client_host
    assert member.subscribed_topic_names == (topic,)
    assert member.assignment == {topic: (0, 1)}
    assert member.assigned_partitions == [(topic, 0), (topic, 1)]


def test_offsets_show_lag_that_drops_to_zero_after_consumption(
    admin, group, topic, kafka_bootstrap_servers, share_consumer
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(10), spread=2)
    consume_all_and_close(share_consumer, group, topic, 10)
    wait_for(lambda: total_lag(admin, group) == 0)

    produce(kafka_bootstrap_servers, topic, numbered(6), spread=2)
    offsets = wait_for(lambda: total_lag(admin, group) == 6 and admin.share_group_offsets(group))
    assert [(entry.partition, entry.log_end_offset) for entry in offsets] == [(0, 8), (1, 8)]
    assert all(entry.start_offset is not None for entry in offsets)

    consume_all_and_close(share_consumer, group, topic, 6)
    wait_for(lambda: total_lag(admin, group) == 0)


def test_reset_to_earliest_makes_an_empty_group_redeliver_everything(
    admin, group, topic, kafka_bootstrap_servers, share_consumer
) -> None:
    values = produce(kafka_bootstrap_servers, topic, numbered(8), spread=2)
    assert sorted(consume_all_and_close(share_consumer, group, topic, 8)) == sorted(values)
    wait_for(lambda: total_lag(admin, group) == 0)
    assert admin.describe_share_group(group).is_empty
    before = spso(admin, group)

    preview = admin.reset_share_group_offsets(group, "earliest", dry_run=True)
    assert preview.dry_run
    assert [(p.partition, p.before, p.after) for p in preview.partitions] == [
        (0, before[(topic, 0)], 0),
        (1, before[(topic, 1)], 0),
    ]
    assert spso(admin, group) == before

    reset = admin.reset_share_group_offsets(group, "earliest")
    assert not reset.dry_run
    assert reset.partitions == preview.partitions
    assert spso(admin, group) == {(topic, 0): 0, (topic, 1): 0}
    assert total_lag(admin, group) == 8
    assert sorted(consume_all_and_close(share_consumer, group, topic, 8)) == sorted(values)


def test_reset_while_a_member_is_active_is_refused(
    admin, group, topic, kafka_bootstrap_servers, share_consumer
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(2), spread=2)
    with share_consumer(group, topic) as consumer:
        consume(consumer, 2)
        wait_for_member(admin, consumer, group)
        with pytest.raises(NonEmptyGroupError) as refused:
            admin.reset_share_group_offsets(group, "earliest")
        with pytest.raises(NonEmptyGroupError):
            admin.delete_share_group(group)
    assert refused.value.name == "NON_EMPTY_GROUP"
    assert refused.value.broker_message
    assert "NON_EMPTY_GROUP" in str(refused.value)


def test_reset_to_latest_a_datetime_and_explicit_offsets(
    admin, group, topic, kafka_bootstrap_servers, share_consumer
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(4), spread=2)
    consume_all_and_close(share_consumer, group, topic, 4)
    wait_for(lambda: total_lag(admin, group) == 0)

    long_ago = datetime.now(UTC) - timedelta(days=1)
    admin.reset_share_group_offsets(group, long_ago)
    assert spso(admin, group) == {(topic, 0): 0, (topic, 1): 0}

    future = datetime.now(UTC) + timedelta(days=1)
    assert admin.reset_share_group_offsets(group, future, dry_run=True).partitions[0].after == 2

    admin.reset_share_group_offsets(group, "latest")
    assert spso(admin, group) == {(topic, 0): 2, (topic, 1): 2}

    result = admin.reset_share_group_offsets(group, {(topic, 1): 1})
    assert [(p.partition, p.before, p.after) for p in result.partitions] == [(1, 2, 1)]
    assert spso(admin, group) == {(topic, 0): 2, (topic, 1): 1}
    assert total_lag(admin, group) == 1


def test_reset_with_topics_covers_partitions_the_group_has_not_initialised(
    admin, group, topic, share_consumer, kafka_bootstrap_servers
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(2), spread=2)
    consume_all_and_close(share_consumer, group, topic, 2)
    other = unique("admin-topic")
    from confluent_kafka.admin import AdminClient, NewTopic

    kafka_admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    kafka_admin.create_topics([NewTopic(other, 1, 1)])[other].result(30)
    try:
        plan = admin.reset_share_group_offsets(group, "earliest", topics=[other], dry_run=True)
        assert [(p.topic, p.partition, p.before, p.after) for p in plan.partitions] == [
            (other, 0, None, 0)
        ]
        with pytest.raises(UnknownTopicOrPartitionError):
            admin.reset_share_group_offsets(group, "earliest", topics=[unique("missing")])
    finally:
        kafka_admin.delete_topics([other])[other].exception(30)


def test_configs_round_trip(admin, group) -> None:
    admin.alter_share_group_config(
        group, {"share.record.lock.duration.ms": 15000, "share.delivery.count.limit": 3}
    )
    # The controller commits the change; the broker that describes it applies it a moment
    # later (KRaft metadata propagates asynchronously), so wait for it to show.
    configs = wait_for(
        lambda: (
            (c := admin.describe_share_group_config(group))
            and c["share.record.lock.duration.ms"].value == "15000"
            and c
        )
    )
    assert configs["share.delivery.count.limit"].value == "3"
    assert configs["share.delivery.count.limit"].source == "GROUP_CONFIG"
    assert not configs["share.delivery.count.limit"].is_default
    assert configs["share.auto.offset.reset"].value == "earliest"
    assert all(name.startswith(("share.", "errors.")) for name in configs)
    assert "consumer.session.timeout.ms" in admin.describe_share_group_config(
        group, include_all=True
    )

    admin.alter_share_group_config(group, {"share.delivery.count.limit": None})
    # As above: the describing broker shows the removal once it has applied it.
    restored = wait_for(
        lambda: (
            (entry := admin.describe_share_group_config(group)["share.delivery.count.limit"])
            and entry.is_default
            and entry
        )
    )
    assert restored.value != "3"

    admin.alter_share_group_config(group, {"share.delivery.count.limit": 4}, validate_only=True)
    assert admin.describe_share_group_config(group)["share.delivery.count.limit"].is_default

    with pytest.raises(InvalidConfigError) as invalid:
        admin.alter_share_group_config(group, {"share.no.such.setting": 1})
    assert invalid.value.name == "INVALID_CONFIG"
    assert "share.no.such.setting" in invalid.value.broker_message


def test_delete_offsets_then_the_group(
    admin, group, topic, kafka_bootstrap_servers, share_consumer
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(2), spread=2)
    consume_all_and_close(share_consumer, group, topic, 2)
    wait_for(lambda: spso(admin, group))

    admin.delete_share_group_offsets(group, [topic])
    assert admin.share_group_offsets(group) == []

    admin.delete_share_group(group)
    assert group not in {listing.group_id for listing in admin.list_share_groups()}
    with pytest.raises(GroupIdNotFoundError):
        admin.describe_share_group(group)


def test_unknown_groups_are_reported(admin) -> None:
    missing = unique("missing-group")
    for operation in (admin.describe_share_group, admin.share_group_offsets):
        with pytest.raises(GroupIdNotFoundError) as error:
            operation(missing)
        assert error.value.name == "GROUP_ID_NOT_FOUND"
    with pytest.raises(GroupIdNotFoundError):
        admin.reset_share_group_offsets(missing, "earliest", dry_run=True)


def test_a_consumer_group_is_never_taken_for_a_share_group(
    admin, topic, kafka_bootstrap_servers
) -> None:
    produce(kafka_bootstrap_servers, topic, numbered(1), spread=2)
    name = unique("classic-group")
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "group.id": name,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        wait_for(lambda: consumer.poll(0.2) is not None)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    with pytest.raises(GroupIdNotFoundError, match="not a share group"):
        admin.delete_share_group(name)
    assert name not in {listing.group_id for listing in admin.list_share_groups()}


def test_metadata_maps_topic_ids_to_names(admin, topic) -> None:
    metadata = admin.cluster.metadata([topic])
    topic_id = metadata.topics[topic].topic_id
    assert metadata.topic_names_by_id()[topic_id] == topic
    assert metadata.topics[topic].partitions == [0, 1]
    assert metadata.brokers


@pytest.mark.parametrize(
    ("mechanism", "username", "password"),
    [
        ("PLAIN", "alice", "alice-secret"),
        ("SCRAM-SHA-256", "bob", "bob-secret"),
        ("SCRAM-SHA-512", "carol", "carol-secret"),
    ],
)
def test_sasl_against_a_real_broker(
    kafka_sasl_bootstrap_servers: str, mechanism: str, username: str, password: str
) -> None:
    settings = {
        "bootstrap.servers": kafka_sasl_bootstrap_servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": username,
        "sasl.password": password,
    }
    with ShareGroupAdmin(settings) as sasl_admin:
        assert isinstance(sasl_admin.list_share_groups(), list)
