"""What a consumer receives (docs/routing.md): payload, key and headers decoded by the
``string``, ``raw`` or a callable deserializer, ``raw_headers`` with every repeated header, and
``messages.metadata`` describing the job."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from django_sharegroups import ShareGroupConsumer

from ..helpers import declare, prepare, running, settled, wait_for

T0 = time.time()


def consume_one(memory_broker, name, value, *, key=None, headers=None, timestamp=None, **options):
    """Produce one record, run a group with topic ``options`` until it is settled; return
    ``(message, metadata)`` as ``consume`` saw them."""
    prepare(memory_broker, name)
    memory_broker.produce(name, value, key=key, headers=headers, timestamp=timestamp)
    seen = []

    class Keep(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.append((message, messages.metadata))
                self.mark_accepted(message)

    with running([declare(name, Keep, topic_options=options)], memory_broker):
        wait_for(lambda: settled(memory_broker, name))
    [(message, metadata)] = seen
    return message, metadata


def test_the_string_deserializer_decodes_utf8_text_for_payload_key_and_headers(memory_broker):
    message, _ = consume_one(
        memory_broker,
        "texts",
        "grüße".encode(),
        key="clé".encode(),
        headers=[("lang", "für".encode())],
        deserializer="string",
        key_deserializer="string",
        headers_deserializer="string",
    )
    assert (message.payload, message.key, message.headers) == ("grüße", "clé", {"lang": "für"})
    assert message.raw_payload == "grüße".encode() and message.raw_key == "clé".encode()


def test_a_callable_deserializer_gets_the_bytes_and_its_result_is_the_payload(memory_broker):
    calls = []

    def parse(raw: bytes) -> tuple[str, ...]:
        calls.append((raw, threading.current_thread().name))
        return tuple(raw.decode().split(","))

    message, _ = consume_one(
        memory_broker, "csv", b"a,b,c", key=b"7", deserializer=parse, key_deserializer=int
    )
    assert message.payload == ("a", "b", "c")
    assert message.key == 7
    assert [raw for raw, _ in calls] == [b"a,b,c"]


def test_a_callable_deserializer_that_raises_rejects_the_record_before_consume(memory_broker):
    def strict(raw: bytes):
        raise ValueError("not a CSV line")

    prepare(memory_broker, "bad-csv")
    memory_broker.produce("bad-csv", b"\x00")
    consumed = []

    class Never(ShareGroupConsumer):
        def consume(self, messages):
            consumed.extend(messages)

    with running(
        [declare("bad-csv", Never, topic_options={"deserializer": strict})], memory_broker
    ):
        wait_for(lambda: settled(memory_broker, "bad-csv"))
    assert consumed == []
    assert [r.offset for r in memory_broker.archived_records("bad-csv")] == [0]


def test_raw_headers_keep_every_value_of_a_repeated_header_in_order(memory_broker):
    headers = [("trace", b"a"), ("hop", b"1"), ("hop", b"2"), ("empty", None)]
    message, _ = consume_one(memory_broker, "hops", b"{}", headers=headers)
    assert list(message.raw_headers) == headers
    assert message.headers == {"trace": b"a", "hop": b"2", "empty": None}  # the last one wins


def test_metadata_describes_the_job(memory_broker):
    produced_ms = int(T0 * 1000) - 5_000  # a record that waited five seconds
    before = datetime.now(tz=UTC)
    message, metadata = consume_one(memory_broker, "described", b'{"n": 0}', timestamp=produced_ms)
    after = datetime.now(tz=UTC)
    assert metadata.size == 1 and metadata.topic == "described"
    assert before <= metadata.created_at <= metadata.processed_at <= after
    assert metadata.processing_lag_ms == int(
        (metadata.processed_at - metadata.created_at).total_seconds() * 1000
    )
    polled_ms = metadata.created_at.timestamp() * 1000
    assert metadata.consumption_lag_ms == int(polled_ms - produced_ms) >= 5_000
    assert message.timestamp == datetime.fromtimestamp(produced_ms / 1000, tz=UTC)
    # only the per_partition builder scopes a job to one partition
    assert (metadata.partition, metadata.first_offset, metadata.last_offset) == (None, None, None)
