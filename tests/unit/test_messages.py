"""Messages: each part decoded at most once, raw parts never, the JSON fast path exact."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from django_sharegroups import DeserializationError, ShareGroupsError
from django_sharegroups.clients.base import ReceivedRecord
from django_sharegroups.messages import (
    Deserializers,
    Message,
    Messages,
    json_deserializer,
    raw_deserializer,
)


class Counting:
    """A deserializer that counts its calls (and fails on ``fail``)."""

    def __init__(self, decode=json_deserializer, fail: bytes | None = None) -> None:
        self.decode, self.fail, self.calls = decode, fail, []

    def __call__(self, raw):
        self.calls.append(raw)
        if raw == self.fail:
            raise ValueError("cannot decode")
        return self.decode(raw)


def record(value=b'{"n": 1}', key=b"k", headers=(("h", b"1"), ("h", b"2"))) -> ReceivedRecord:
    return ReceivedRecord("t", 1, 7, key, value, list(headers))


def test_each_part_is_decoded_once_however_often_it_is_read():
    payload, key, headers = Counting(), Counting(), Counting()
    message = Deserializers(payload, key, headers).message(record(key=b'"k"'))
    for _ in range(3):
        assert (message.payload, message.key, message.headers) == ({"n": 1}, "k", {"h": 2})
    assert (payload.calls, key.calls, headers.calls) == ([b'{"n": 1}'], [b'"k"'], [b"1", b"2"])


def test_raw_parts_are_the_record_bytes_and_never_decoded(monkeypatch):
    message = Deserializers(raw_deserializer).message(record())
    assert (message.payload, message.key) == (b'{"n": 1}', b"k")
    assert message.headers == {"h": b"2"}  # built on first access, last value wins
    assert message.raw_headers == [("h", b"1"), ("h", b"2")]
    assert message.coordinates == ("t", 1, 7) == (message.topic, message.partition, message.offset)


@pytest.mark.parametrize("part", ["payload", "key", "headers"])
def test_an_undecodable_part_is_named_with_the_coordinates(part):
    decoders = {part: Counting(fail=b"bad")}
    bad = record(**{"value" if part == "payload" else part: b"bad"} if part != "headers" else {})
    if part == "headers":
        bad = record(headers=[("h", b"bad")])
    with pytest.raises(DeserializationError, match=rf"t\[1\]@7 {part}: ValueError") as raised:
        Deserializers(**decoders).message(bad)
    assert isinstance(raised.value, ShareGroupsError) and isinstance(raised.value, ValueError)


def test_a_null_key_decoded_from_json_stays_none():
    message = Message.deserialize(record(key=b"null"), Deserializers(key=json_deserializer))
    assert message.key is None and message.raw_key == b"null"


#: Documents json.loads reads (or refuses) in its own ways: every fast path must agree.
DOCUMENTS = [
    b'{"n": 1, "s": "x\\u00e9\\n", "l": [1, 2.5, true, null]}',
    b"  [1, 2]\n",  # surrounding whitespace
    b'\xef\xbb\xbf{"bom": 1}',  # UTF-8 byte order mark
    '{"utf16": 1}'.encode("utf-16"),
    b'"\\ud800"',  # a lone surrogate escape
    b"123456789012345678901234567890",
    b"NaN",
    b'"caf\xc3\xa9"',
    b"",
    b"{not json",
    b'{"a": 1} trailing',
    b"\xff\xfe\xfa",
    b"[" * 100_000,  # too deep for the scanner
    b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, at the first place
    b"[1e400, -1e400, -0.0, 0.1, 1.7976931348623157e308, 5e-324]",
    b"[18446744073709551615, 18446744073709551616, -9223372036854775809]",
    b'["\\u0000", "\\ud83d\\ude00", "\xf0\x9f\x98\x80"]',
    b"Infinity",
    b'{"deep": ' * 600 + b"1" + b"}" * 600,  # deeper than orjson reads
    b"[" * 990 + b"]" * 990,  # about as deep as json.loads reads
    b"\t1\r\n",
    # the fast reader's floats against float(): tricky roundings, overflow to infinity
    b"[2.2250738585072011e-308, 1.7976931348623158e308, 1.8e308, 0.30000000000000004]",
    b"[9999999999999999999, -999999999999999999, 12345678901234567890.5]",  # 19+ digits
    b'{"id": "12345678901234567890123"}',  # a long digit run in a string
    b"1" * 4300,  # the longest integer json.loads reads (sys.get_int_max_str_digits())
    b"1" * 4301,  # one digit more: json.loads refuses it
    b'"\xff"',  # not UTF-8 inside a string
    b'"\xed\xa0\x80"',  # a surrogate in UTF-8 bytes: json.loads reads it (surrogatepass)
    b"1.5e400",
]


@pytest.mark.parametrize("raw", DOCUMENTS)
def test_the_json_fast_path_reads_exactly_what_json_loads_reads(raw):
    try:
        expected = json.loads(raw)
    except (ValueError, RecursionError) as error:
        with pytest.raises(type(error)):
            json_deserializer(raw)
        return
    got = json_deserializer(raw)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected and type(got) is type(expected)
        assert repr(got) == repr(expected)  # same types inside, same key order, -0.0 kept


def test_the_json_fast_path_reads_numbers_exactly_as_json_loads_reads_them():
    """Numbers of every shape, drawn with a fixed seed: long mantissas, exponents near the
    ends of the float range, integers around 64 bits. One that the fast reader rounds
    differently from ``float()`` or widens differently from ``int()`` fails this."""
    draw = random.Random(932)
    numbers = []
    for _ in range(3000):
        digits = "".join(draw.choice("0123456789") for _ in range(draw.randint(1, 40)))
        digits = digits.lstrip("0") or "0"
        shape = draw.randrange(4)
        if shape == 0:
            numbers.append(f"-{digits}" if draw.random() < 0.5 else digits)
        elif shape == 1:
            numbers.append(f"{digits[:1]}.{digits[1:] or '0'}e{draw.randint(-330, 310)}")
        elif shape == 2:
            numbers.append(f"0.{digits}")
        else:
            numbers.append(repr(draw.uniform(-1.0, 1.0) * 10.0 ** draw.randint(-300, 300)))
    raw = f"[{', '.join(numbers)}]".encode()
    assert repr(json_deserializer(raw)) == repr(json.loads(raw))
    records = [ReceivedRecord("t", 0, n, None, number.encode()) for n, number in enumerate(numbers)]
    messages = Deserializers().messages(records, [])
    assert [repr(m.payload) for m in messages] == [repr(json.loads(n)) for n in numbers]


def outcome(raw):
    try:
        return repr(json_deserializer(raw))
    except (ValueError, RecursionError) as error:
        return type(error)


@pytest.mark.parametrize("ascii_only", [False, True])
def test_a_poll_decoded_at_once_reads_each_record_as_it_alone_reads(ascii_only):
    """``json_payloads`` reads a poll at once (the fast reader over all of them): values
    that only make sense joined (a document cut in two, numbers that
    would run together) must still be read one by one, each as it alone reads."""
    halves = [b'{"a": 1', b"}", b'"open', b'close"', b"12", b"34", b"[1,", b"2]", b"1 2"]
    values = [*DOCUMENTS, *halves, None, b'{"n": 2}', b'{"n": 3}']
    if ascii_only:
        values = [v for v in values if v is None or (v.isascii() and len(v) < 1000)]
        values.remove(None)  # a tombstone sends the whole poll one by one
    records = [ReceivedRecord("t", 1, n, None, v) for n, v in enumerate(values)]
    undecodable: list = []
    messages = Deserializers().messages(records, undecodable)
    got = {m.offset: repr(m.payload) for m in messages}
    failed = {record.offset for record, _ in undecodable}
    for n, value in enumerate(values):
        expected = outcome(value)
        if isinstance(expected, str):
            assert got[n] == expected, value[:40]
        else:
            assert n in failed and n not in got, value[:40]


def test_tombstones_stay_none():
    assert Message.deserialize(record(value=None), json_deserializer).payload is None


def test_job_metadata_is_built_when_read_and_describes_the_job_as_made():
    polled = datetime.now(tz=UTC) - timedelta(seconds=2)
    records = [ReceivedRecord("t", 1, n, None, b"{}", [], None, 1, None) for n in (7, 9, 8)]
    messages = Messages(
        [Message(r, {}) for r in records], topic="t", polled_at=polled, partition_scoped=True
    )
    made = datetime.now(tz=UTC)
    assert messages._metadata is None  # nothing built until somebody reads it
    metadata = messages.metadata
    assert metadata is messages.metadata  # built once
    assert (metadata.size, metadata.topic, metadata.created_at) == (3, "t", polled)
    assert (metadata.partition, metadata.first_offset, metadata.last_offset) == (1, 7, 9)
    assert abs((metadata.processed_at - made).total_seconds()) < 1
    assert metadata.processing_lag_ms >= 1900
    subset = messages.only(messages[1:])
    assert (subset.metadata.size, subset.metadata.first_offset) == (2, 8)
    assert subset.metadata.created_at == polled
    assert Messages([]).metadata is None  # a list made by hand describes nothing


def test_a_confluent_record_reads_key_headers_and_timestamp_from_its_message():
    from confluent_kafka import Message as PolledMessage

    from django_sharegroups.clients.confluent import ConfluentRecord

    polled = PolledMessage(
        topic="t", partition=2, offset=9, key=b"k", value=b'{"n": 1}',
        headers=[("h", b"1")], timestamp=(1, 1234),
    )  # fmt: skip
    received = ConfluentRecord(polled)
    assert received.coordinates == ("t", 2, 9)
    assert (received.value, received.delivery_count, received.handle) == (b'{"n": 1}', 1, polled)
    assert (received.key, list(received.headers), received.timestamp_ms) == (
        b"k",
        [("h", b"1")],
        1234,
    )
    message = Deserializers(json_deserializer).messages([received], [])[0]
    assert (message.key, message.raw_headers, message.timestamp) == (
        b"k",
        [("h", b"1")],
        datetime.fromtimestamp(1.234, tz=UTC),
    )
    bare = ConfluentRecord(PolledMessage(topic="t", partition=0, offset=1, value=None))
    assert (bare.key, bare.headers, bare.timestamp_ms) == (None, (), None)


def test_a_decoded_key_is_kept_and_a_raw_key_is_the_records():
    assert Message(record(key=b"raw"), None).key == b"raw"
    decoded = Deserializers(raw_deserializer, key=json_deserializer).message(record(key=b"[1]"))
    assert decoded.key == [1]
