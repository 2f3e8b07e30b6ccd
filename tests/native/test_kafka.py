"""The native adapter against the real Kafka 4.4 broker, through the adapter interface."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from django_sharegroups.clients.base import AcknowledgeType, Capability
from django_sharegroups.clients.native import NativeShareConsumer
from django_sharegroups.instrumentation import events

from ..helpers import numbered, produce
from .helpers import poll_until, quiet

pytestmark = pytest.mark.kafka

ACCEPT, RELEASE, REJECT, RENEW = (
    AcknowledgeType.ACCEPT,
    AcknowledgeType.RELEASE,
    AcknowledgeType.REJECT,
    AcknowledgeType.RENEW,
)


def test_capabilities() -> None:
    assert NativeShareConsumer.capabilities == {
        Capability.RENEW,
        Capability.STRICT_RECORD_LIMIT,
        Capability.HOLD_ACROSS_POLLS,
    }


def test_two_members_accept_every_record_exactly_once(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(4)
    values = [b"record-%d" % i for i in range(400)]
    produce(kafka_bootstrap_servers, name, values, keys=numbered(400, "key"))
    first, second = member(name), member(name)
    seen: list[tuple[int, int, bytes]] = []
    refused: list = []
    lock = threading.Lock()
    done = threading.Event()

    def consume(client) -> None:
        """Runs in a thread: records what went wrong instead of asserting (a failed assert in
        a thread only warns); the test thread checks ``refused`` below."""
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            records = client.poll(25, 0.3)
            for record in records:
                client.acknowledge(record, ACCEPT)
            failures = client.commit_sync(10) if records else []
            with lock:
                refused.extend(failures)
                seen.extend((r.partition, r.offset, r.value) for r in records)
                if len(seen) >= len(values):
                    done.set()

    threads = [threading.Thread(target=consume, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    counts = Counter((partition, offset) for partition, offset, _ in seen)
    assert len(counts) == len(values) and set(counts.values()) == {1}
    assert sorted(v for _, _, v in seen) == sorted(values)
    assert quiet(first, second, seconds=1.5) == []


def test_records_carry_key_headers_and_timestamp(kafka_bootstrap_servers, share_topic, member):
    from confluent_kafka import Producer

    name = share_topic()
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    producer.produce(name, b"v", key=b"k", headers=[("a", b"1"), ("b", None)], timestamp=12345)
    producer.produce(name, None, key=None)
    producer.flush(10)
    first, second = poll_until(member(name), 2)
    assert (first.key, first.value, tuple(first.headers), first.timestamp_ms) == (
        b"k",
        b"v",
        (("a", b"1"), ("b", None)),
        12345,
    )
    assert (second.key, second.value, second.delivery_count) == (None, None, 1)


def test_a_released_record_comes_back_with_delivery_count_two(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [b"again"])
    client = member(name)
    (first,) = poll_until(client, 1, ack=RELEASE)
    assert first.delivery_count == 1
    (second,) = poll_until(client, 1)
    assert (second.offset, second.value, second.delivery_count) == (first.offset, b"again", 2)
    assert quiet(client, seconds=1) == []


def test_acknowledge_all_settles_records_of_interleaved_partitions(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    """``acknowledge_all`` looks a partition up only where the handle changes: records of three
    partitions taken in turn, and one built by hand (no handle), must each be settled."""
    name = share_topic(3)
    produce(kafka_bootstrap_servers, name, [b"r%d" % i for i in range(60)], spread=3)
    client = member(name)
    records = poll_until(client, 60, max_records=500, ack=None)
    interleaved = sorted(records, key=lambda r: (r.offset, r.partition))
    assert len({r.partition for r in interleaved[:3]}) > 1  # the handle changes every record
    client.acknowledge_all(interleaved, RELEASE)
    assert client.commit_sync(10) == []
    again = poll_until(client, 60, max_records=500, ack=None)
    assert sorted((r.partition, r.offset, r.delivery_count) for r in again) == sorted(
        (r.partition, r.offset, 2) for r in records
    )
    by_hand = again[0].__class__(again[0].topic, again[0].partition, again[0].offset, None, None)
    client.acknowledge_all([by_hand, *again[1:]], ACCEPT)
    assert client.commit_sync(10) == []
    client.close()  # would release whatever was not acknowledged to the next member
    assert quiet(member(name), seconds=2) == []


def test_a_rejected_record_never_comes_back(kafka_bootstrap_servers, share_topic, member):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [b"poison", b"fine"])
    client = member(name)
    records = poll_until(client, 2, ack=None)
    for record in records:
        client.acknowledge(record, REJECT if record.value == b"poison" else ACCEPT)
    assert client.commit_sync(10) == []
    assert quiet(client, member(name), seconds=2) == []


def test_the_delivery_count_limit_archives(kafka_bootstrap_servers, share_topic, member):
    name = share_topic(share_delivery_count_limit=2)
    produce(kafka_bootstrap_servers, name, [b"flaky"])
    client = member(name)
    counts = [r.delivery_count for r in poll_until(client, 2, ack=RELEASE)]
    assert counts == [1, 2]
    assert quiet(client, seconds=2) == []


def test_an_expired_lock_redelivers_to_another_member(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=1000)
    produce(kafka_bootstrap_servers, name, [b"slow"])
    holder, other = member(name), member(name)
    (held,) = poll_until(holder, 1, ack=None)
    assert holder.acquisition_lock_timeout_ms() == 1000
    started = time.monotonic()
    (again,) = poll_until(other, 1, timeout=10, ack=None)
    assert time.monotonic() - started >= 0.5
    assert (again.offset, again.delivery_count) == (held.offset, 2)
    # The late word of the first holder is refused while the other member holds the record.
    holder.acknowledge(held, ACCEPT)
    assert [f.error for f in holder.commit_sync(10)] == ["INVALID_RECORD_STATE"]
    other.acknowledge(again, ACCEPT)
    assert other.commit_sync(10) == []


def test_renew_keeps_a_record_past_its_lock(kafka_bootstrap_servers, share_topic, member):
    name = share_topic(share_record_lock_duration_ms=1000)
    produce(kafka_bootstrap_servers, name, [b"long job"])
    holder, other = member(name), member(name)
    (held,) = poll_until(holder, 1, ack=None)
    deadline = time.monotonic() + 3.5  # three and a half locks
    while time.monotonic() < deadline:
        holder.acknowledge(held, RENEW)
        holder.commit_async()
        assert holder.take_acknowledgement_failures() == []
        assert other.poll(10, 0.4) == []
    holder.acknowledge(held, ACCEPT)
    assert holder.commit_sync(10) == []
    assert quiet(holder, other, seconds=2) == []


def test_record_limit_is_strict_even_inside_one_producer_batch(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic()
    produce(
        kafka_bootstrap_servers, name, [b"%d" % i for i in range(100)], config={"linger.ms": 200}
    )
    first, second = member(name), member(name)
    records = poll_until(first, 1, max_records=3, ack=None)
    assert len(records) == 3
    # The broker acquired no more than three: the other member gets the 97 others at once.
    rest = poll_until(second, 97, max_records=500)
    assert len(rest) == 97
    assert not {r.offset for r in rest} & {r.offset for r in records}
    for limit in (1, 2, 5):
        for record in records:
            first.acknowledge(record, RELEASE)
        records = poll_until(first, 1, max_records=limit, ack=None)
        assert 0 < len(records) <= limit


def test_whole_batches_when_allowed_and_the_strict_limit_again_when_not(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic()
    produce(
        kafka_bootstrap_servers, name, [b"%d" % i for i in range(100)], config={"linger.ms": 200}
    )
    client = member(name)
    client.acquire_whole_batches(True)
    records = poll_until(client, 1, max_records=3, ack=None)
    # Batch-optimized mode: the broker hands over the whole producer batch, and the adapter
    # takes it (instead of refusing an answer that holds more than was asked for).
    assert len(records) > 3
    assert len({r.offset for r in records}) == len(records)
    client.acknowledge_all(records, RELEASE)
    client.acquire_whole_batches(False)
    again = poll_until(client, 1, max_records=3, ack=None)
    assert 0 < len(again) <= 3
    assert {r.delivery_count for r in again} == {2}
    client.acknowledge_all(again, ACCEPT)
    assert client.commit_sync(10) == []


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_topics_decode(kafka_bootstrap_servers, share_topic, member, codec) -> None:
    name = share_topic()
    values = [(b"%s record %d " % (codec.encode(), i)) * 20 for i in range(200)]
    produce(
        kafka_bootstrap_servers,
        name,
        values,
        keys=numbered(200, "key"),
        config={"compression.type": codec, "linger.ms": 100},
    )
    client = member(name)
    records = poll_until(client, 200, max_records=500)
    assert [r.value for r in sorted(records, key=lambda r: r.offset)] == values
    assert {r.key for r in records} == {b"key-%d" % i for i in range(200)}
    assert client.take_corrupt_batches() == []


def test_a_corrupt_batch_is_released_and_comes_back(
    kafka_bootstrap_servers, share_topic, member, monkeypatch
) -> None:
    """Bytes damaged in flight: the batch is reported, its records RELEASEd, the member goes on
    and gets them again (delivery count 2) once they arrive intact."""
    from django_sharegroups.clients.native import consumer as consumer_module

    real = consumer_module.deliver_partition
    damaged = []

    def damage_once(partition, data, acquired, **options):
        if not damaged and data:
            damaged.append(True)
            data = bytearray(data)
            data[-1] ^= 0xFF
            data = bytes(data)
        return real(partition, data, acquired, **options)

    monkeypatch.setattr(consumer_module, "deliver_partition", damage_once)
    published = []

    def record_event(event: str, payload: dict) -> None:
        published.append(payload)

    events.subscribe("batch.corrupt", record_event)
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [b"a", b"b", b"c"], config={"linger.ms": 100})
    client = member(name)
    try:
        records = poll_until(client, 3, timeout=20)
    finally:
        events.unsubscribe("batch.corrupt", record_event)
    assert damaged
    (corrupt,) = client.take_corrupt_batches()
    assert "CRC mismatch" in corrupt.error and corrupt.action == "release"
    (event,) = published
    assert (event["share_group"], event["topic"], event["action"]) == (name, name, "RELEASE")
    assert event["offsets"] == corrupt.offsets and event["error"] == corrupt.error
    assert sorted(r.value for r in records) == [b"a", b"b", b"c"]
    assert {r.delivery_count for r in records} == {2}


def test_a_corrupt_batch_can_be_rejected(
    kafka_bootstrap_servers, share_topic, member, monkeypatch
) -> None:
    from django_sharegroups.clients.native import consumer as consumer_module

    real = consumer_module.deliver_partition

    def damage(partition, data, acquired, **options):
        data = bytearray(data)
        if data:
            data[-1] ^= 0xFF
        return real(partition, bytes(data), acquired, **options)

    monkeypatch.setattr(consumer_module, "deliver_partition", damage)
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [b"a"])
    client = member(name, **{"native.corrupt.batch.action": "reject"})
    deadline = time.monotonic() + 10
    corrupt = []
    while not corrupt and time.monotonic() < deadline:
        assert client.poll(10, 0.3) == []
        corrupt = client.take_corrupt_batches()
    assert corrupt and corrupt[0].action == "reject"
    monkeypatch.setattr(consumer_module, "deliver_partition", real)
    assert quiet(client, seconds=1.5) == []


def test_closing_releases_held_records_to_others(kafka_bootstrap_servers, share_topic, member):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [b"held"])
    holder = member(name)
    (held,) = poll_until(holder, 1, ack=None)
    holder.close()
    (again,) = poll_until(member(name), 1, timeout=10)
    assert (again.offset, again.delivery_count) == (held.offset, 2)


def test_worker_threads_acknowledge_while_the_owner_polls(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    """acknowledge() only queues (any thread); the owner thread's polls send what is queued."""
    import queue

    name = share_topic(2)
    produce(kafka_bootstrap_servers, name, numbered(300), keys=numbered(300, "key"))
    client = member(name)
    work: queue.Queue = queue.Queue()
    acknowledged: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while (record := work.get()) is not None:
            client.acknowledge(record, ACCEPT)
            with lock:
                acknowledged.append(record.offset)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 300 and time.monotonic() < deadline:
        records = client.poll(20, 0.3)  # the owner keeps polling while workers acknowledge
        seen += records
        for record in records:
            work.put(record)
    for _ in workers:
        work.put(None)
    for thread in workers:
        thread.join()
    assert client.commit_sync(10) == []
    assert len(seen) == 300 and len(acknowledged) == 300
    assert len({(r.partition, r.offset) for r in seen}) == 300
    assert quiet(client, member(name), seconds=1.5) == []


@pytest.mark.parametrize(
    ("mechanism", "username", "password"),
    [("PLAIN", "alice", "alice-secret"), ("SCRAM-SHA-256", "bob", "bob-secret")],
)
def test_consuming_over_sasl(
    kafka_sasl_bootstrap_servers: str, share_topic, mechanism, username, password
) -> None:
    from django_sharegroups.clients.native import NativeClientFactory

    name = share_topic()
    factory = NativeClientFactory(
        {
            "bootstrap.servers": kafka_sasl_bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": username,
            "sasl.password": password,
        }
    )
    client = factory.create(name, client_id="native-sasl")
    try:
        client.subscribe([name])
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": kafka_sasl_bootstrap_servers,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": mechanism,
                "sasl.username": username,
                "sasl.password": password,
            }
        )
        producer.produce(name, b"over sasl")
        assert producer.flush(30) == 0
        (record,) = poll_until(client, 1)
        assert record.value == b"over sasl"
    finally:
        client.close()
