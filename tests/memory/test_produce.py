"""Topics, produce and partitioning."""

from __future__ import annotations

import zlib

import pytest

from django_sharegroups.clients.memory import BrokerError, ManualClock, MemoryBroker
from django_sharegroups.clients.memory.partitioner import murmur2, murmur2_partition
from django_sharegroups.exceptions import ConfigurationError

# Computed with org.apache.kafka.common.utils.Utils.murmur2 from kafka-clients 4.4.0.
JAVA_MURMUR2 = {
    b"": 275646681,
    b"a": -1563381124,
    b"ab": 316155434,
    b"abc": 479470107,
    b"abcd": -1323649548,
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    "héllo".encode(): 614509002,
}


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2.items())
def test_murmur2_matches_kafkas_java_client(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


def test_keyed_records_land_where_the_java_producer_puts_them() -> None:
    # Utils.toPositive(murmur2("order-42")) % 3 == 0 and % 7 == 1 in the Java client.
    assert murmur2_partition(b"order-42", 3) == 0
    assert murmur2_partition(b"order-42", 7) == 1
    manual_broker = MemoryBroker(clock=ManualClock())
    manual_broker.create_topic("orders", partitions=7)
    assert manual_broker.produce("orders", b"x", key="order-42") == (1, 0)
    assert manual_broker.produce("orders", b"y", key=b"order-42") == (1, 1)


def test_offsets_are_consecutive_per_partition(manual_broker: MemoryBroker) -> None:
    manual_broker.create_topic("three", partitions=3)
    results = [manual_broker.produce("three", b"v", partition=p) for p in (0, 0, 2, 0)]
    assert results == [(0, 0), (0, 1), (2, 0), (0, 2)]
    assert [manual_broker.log_end_offset("three", p) for p in range(3)] == [3, 0, 1]


def test_records_without_key_go_round_robin(manual_broker: MemoryBroker) -> None:
    manual_broker.create_topic("three", partitions=3)
    partitions = [manual_broker.produce("three", b"v")[0] for _ in range(6)]
    assert partitions == [0, 1, 2, 0, 1, 2]


def test_crc32_partitioner_is_available() -> None:
    manual_broker = MemoryBroker(clock=ManualClock(), partitioner="crc32")
    manual_broker.create_topic("t", partitions=5)
    assert manual_broker.produce("t", b"v", key=b"abc")[0] == zlib.crc32(b"abc") % 5


def test_stored_record_keeps_key_value_headers_and_timestamp(
    manual_broker: MemoryBroker, clock: ManualClock
) -> None:
    manual_broker.produce("jobs", "text", key="k", headers={"trace": "t-1", "empty": None})
    manual_broker.produce("jobs", b"raw", headers=[("h", b"1"), ("h", b"2")], timestamp=42)
    first, second = manual_broker.read_records("jobs", 0)
    assert (first.key, first.value, first.timestamp_ms) == (b"k", b"text", clock.now_ms())
    assert first.headers == (("trace", b"t-1"), ("empty", None))
    assert (second.key, second.timestamp_ms) == (None, 42)
    assert second.headers == (("h", b"1"), ("h", b"2"))


def test_value_may_be_none(manual_broker: MemoryBroker) -> None:
    manual_broker.produce("jobs", None, key="tombstone")
    assert manual_broker.read_records("jobs", 0)[0].value is None


def test_unknown_partition_is_refused(manual_broker: MemoryBroker) -> None:
    with pytest.raises(BrokerError) as error:
        manual_broker.produce("jobs", b"v", partition=1)
    assert error.value.error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_unknown_topic_is_created_with_num_partitions() -> None:
    manual_broker = MemoryBroker(clock=ManualClock(), config={"num.partitions": 4})
    manual_broker.produce("fresh", b"v")
    assert manual_broker.topics() == {"fresh": 4}


def test_unknown_topic_is_refused_without_auto_create() -> None:
    manual_broker = MemoryBroker(clock=ManualClock(), config={"auto.create.topics.enable": "false"})
    with pytest.raises(BrokerError) as error:
        manual_broker.produce("fresh", b"v")
    assert error.value.error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_topic_admin_errors(manual_broker: MemoryBroker) -> None:
    with pytest.raises(BrokerError) as exists:
        manual_broker.create_topic("jobs")
    with pytest.raises(BrokerError) as illegal:
        manual_broker.create_topic("no spaces")
    with pytest.raises(BrokerError) as shrink:
        manual_broker.create_partitions("jobs", 1)
    assert exists.value.error == "TOPIC_ALREADY_EXISTS"
    assert illegal.value.error == "INVALID_TOPIC_EXCEPTION"
    assert shrink.value.error == "INVALID_PARTITIONS"
    manual_broker.create_partitions("jobs", 3)
    assert manual_broker.topics() == {"jobs": 3}


def test_offset_for_timestamp(manual_broker: MemoryBroker, clock: ManualClock) -> None:
    manual_broker.produce("jobs", b"old")
    clock.advance(60)
    manual_broker.produce("jobs", b"new")
    assert manual_broker.offset_for_timestamp("jobs", 0, clock.now_ms() - 30_000) == 1
    assert manual_broker.offset_for_timestamp("jobs", 0, 0) == 0
    assert manual_broker.offset_for_timestamp("jobs", 0, clock.now_ms() + 1) == 2


def test_unknown_broker_setting_fails_loudly() -> None:
    with pytest.raises(ConfigurationError):
        MemoryBroker(config={"group.share.delivery.count.limt": 3})
