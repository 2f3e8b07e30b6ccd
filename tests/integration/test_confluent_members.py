"""The ``confluent`` adapter's members on Kafka 4.4: several librdkafka share consumers behind
one adapter, each polled by its own thread, hand over every record once, acknowledged by the
member that polled it, while the others fetch ahead."""

from __future__ import annotations

import json
import threading
import time

import pytest
from confluent_kafka import KafkaException

from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.confluent import ConfluentShareConsumer
from django_sharegroups.conf import ShareGroupsSettings, get_settings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.kafka.errors import GroupIdNotFoundError

from .test_stop_spends_no_attempts import produce_in_large_batches

pytestmark = pytest.mark.kafka

TOTAL = 20_000


def consume_all(client: ConfluentShareConsumer, total: int) -> tuple[dict[int, int], set[int]]:
    """Poll, fetch ahead and ACCEPT as the listener does with fast jobs, until ``total``
    records came: the delivery count of each record by ``n``, and which members handed some."""
    counts: dict[int, int] = {}
    members: set[int] = set()
    client.acquire_whole_batches(True)
    deadline = time.monotonic() + 60
    while len(counts) < total and time.monotonic() < deadline:
        records = client.poll(500, 0.5)
        client.prefetch(1000)
        for record in records:
            n = json.loads(record.value)["n"]
            assert n not in counts, f"record {n} handed over twice"
            counts[n] = record.delivery_count
            members.add(id(record.consumer))  # type: ignore[attr-defined]
        client.acknowledge_all(records, AcknowledgeType.ACCEPT)
    assert client.commit_sync(10) == []
    return counts, members


def wait_for_members(
    admin: ShareGroupAdmin, group: str, client: ConfluentShareConsumer, count: int
) -> None:
    """Poll until the group has ``count`` members, each with partitions."""
    deadline = time.monotonic() + 30
    while True:
        client.poll(500, 0.2)
        try:
            members = admin.describe_share_group(group).members
        except GroupIdNotFoundError:  # no heartbeat arrived yet
            members = ()
        if len(members) == count and all(member.assignment for member in members):
            return
        assert time.monotonic() < deadline, f"{len(members)} of {count} members with partitions"


@pytest.mark.parametrize("members", [2, 3])
def test_members_hand_over_every_record_once(kafka_bootstrap_servers, share_topic, members):
    name = share_topic(partitions=3)
    config = {"bootstrap.servers": kafka_bootstrap_servers, "group.id": name, "client.id": name}
    client = ConfluentShareConsumer(config, members)
    try:
        client.subscribe([name])
        client.acquire_whole_batches(True)
        client.prefetch(1000)  # fast jobs: the other members join
        with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
            wait_for_members(admin, name, client, members)
        produce_in_large_batches(kafka_bootstrap_servers, name, TOTAL)
        counts, handed_by = consume_all(client, TOTAL)
    finally:
        client.close()
    assert sorted(counts) == list(range(TOTAL))
    assert set(counts.values()) == {1}, "a record came back: its member polled with it held"
    assert len(handed_by) == members, "every member's partitions were served"


def test_the_other_members_join_only_to_fetch_ahead(kafka_bootstrap_servers, share_topic):
    """Slow jobs or a throttle never allow fetching ahead: the group keeps one member, which
    acquires no more than a single librdkafka consumer would."""
    name = share_topic(partitions=3)
    produce_in_large_batches(kafka_bootstrap_servers, name, 3000)
    config = {"bootstrap.servers": kafka_bootstrap_servers, "group.id": name, "client.id": name}
    client = ConfluentShareConsumer(config, 2)
    admin = ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers})
    try:
        client.subscribe([name])
        client.acquire_whole_batches(False)
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 3000 and time.monotonic() < deadline:
            records = client.poll(500, 0.5)
            client.prefetch(1000)  # asked, but whole batches are not safe: nothing happens
            seen.update(json.loads(r.value)["n"] for r in records)
            client.acknowledge_all(records, AcknowledgeType.ACCEPT)
        assert len(seen) == 3000
        assert len(admin.describe_share_group(name).members) == 1
        client.acquire_whole_batches(True)
        client.prefetch(1000)  # now the second member joins
        wait_for_members(admin, name, client, 2)
    finally:
        client.close()
        admin.close()


def test_one_member_is_the_plain_librdkafka_consumer(kafka_bootstrap_servers, share_topic):
    name = share_topic(partitions=3)
    produce_in_large_batches(kafka_bootstrap_servers, name, 3000)
    config = {"bootstrap.servers": kafka_bootstrap_servers, "group.id": name, "client.id": name}
    client = ConfluentShareConsumer(config, 1)
    try:
        client.subscribe([name])
        counts, handed_by = consume_all(client, 3000)
    finally:
        client.close()
    assert sorted(counts) == list(range(3000)) and len(handed_by) == 1


def test_the_member_count_is_a_setting(settings):
    assert get_settings().confluent_members == 2
    settings.SHAREGROUPS = {"CONFLUENT_MEMBERS": 3}
    assert get_settings().confluent_members == 3
    for wrong in (0, "2", True):
        settings.SHAREGROUPS = {"CONFLUENT_MEMBERS": wrong}
        with pytest.raises(ConfigurationError, match="CONFLUENT_MEMBERS"):
            get_settings()
    assert ShareGroupsSettings(client="confluent").confluent_members == 2


def test_a_member_that_cannot_be_created_fails_the_client_at_once():
    """librdkafka refuses the configuration: the error names the key, and no fetch thread
    is left behind (a closed local port: nothing is ever reached)."""
    before = {t.name for t in threading.enumerate()}
    config = {"bootstrap.servers": "127.0.0.1:1", "group.id": "g", "no.such.key": 1}
    with pytest.raises(KafkaException, match="no.such.key"):
        ConfluentShareConsumer(config, 2)
    left = {t.name for t in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("sharegroups-fetch")]
