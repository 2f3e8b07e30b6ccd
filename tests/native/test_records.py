"""Record batch v2 decoding: framing, CRC32C, varints, headers, timestamps, control batches,
every compression codec — on batches built here and on batches recorded from Kafka 4.4."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from django_sharegroups.clients.native.compression import DecompressionError, decompress
from django_sharegroups.clients.native.records import (
    BATCH_HEADER_SIZE,
    CorruptBatchError,
    crc32c,
    read_batches,
)

from .batches import CODECS, Rec, batch, control_batch, fix_crc, zigzag

RECORDED = json.loads((Path(__file__).parent / "data" / "recorded_frames.json").read_text())


def only(data: bytes):
    (result,) = list(read_batches(data))
    return result


#: Every test runs with the compiled and the pure-Python record reader.
pytestmark = pytest.mark.usefixtures("record_decoder")


def test_crc32c_matches_the_castagnoli_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283


def test_a_plain_batch_decodes_every_field() -> None:
    data = batch(
        40,
        [
            Rec(b"v0", key=b"k0", headers=[("trace", b"abc"), ("empty", b""), ("none", None)]),
            Rec(None, key=None, timestamp_delta=-5),
            Rec(b"", key=b"", timestamp_delta=2**40),
        ],
        base_timestamp=1_700_000_000_000,
    )
    decoded = only(data)
    assert (decoded.base_offset, decoded.last_offset, decoded.error) == (40, 42, None)
    first, second, third = decoded.records()
    assert (first.offset, first.key, first.value) == (40, b"k0", b"v0")
    assert first.headers == (("trace", b"abc"), ("empty", b""), ("none", None))
    assert first.timestamp_ms == 1_700_000_000_000
    assert (second.offset, second.key, second.value, second.headers) == (41, None, None, ())
    assert second.timestamp_ms == 1_700_000_000_000 - 5
    assert (third.key, third.value, third.timestamp_ms) == (b"", b"", 1_700_000_000_000 + 2**40)


def test_offset_deltas_may_skip_offsets_compacted_away() -> None:
    data = batch(100, [Rec(b"a", offset_delta=0), Rec(b"b", offset_delta=7)])
    decoded = only(data)
    assert decoded.last_offset == 107
    assert [r.offset for r in decoded.records()] == [100, 107]


def test_log_append_time_replaces_every_record_timestamp() -> None:
    data = batch(0, [Rec(b"a", timestamp_delta=3), Rec(b"b")], log_append_time=1_800_000_000_000)
    assert {r.timestamp_ms for r in only(data).records()} == {1_800_000_000_000}


def test_large_values_and_multi_byte_varints() -> None:
    big = bytes(range(256)) * 1000
    decoded = only(batch(2**40, [Rec(big, key=b"x" * 300)], codec="zstd")).records()
    assert decoded[0].value == big and decoded[0].key == b"x" * 300
    assert decoded[0].offset == 2**40


def test_wanted_filters_records_without_decoding_the_others() -> None:
    data = batch(10, [Rec(b"%d" % i) for i in range(10)])
    decoded = only(data).records(wanted=lambda offset: offset in (11, 15))
    assert [(r.offset, r.value) for r in decoded] == [(11, b"1"), (15, b"5")]


def test_control_batches_have_no_data_records() -> None:
    decoded = only(control_batch(9))
    assert decoded.is_control and decoded.is_transactional
    assert decoded.records() == []


def test_several_batches_and_a_partial_trailing_batch() -> None:
    first = batch(0, [Rec(b"a"), Rec(b"b")])
    second = batch(2, [Rec(b"c")], codec="gzip")
    third = batch(3, [Rec(b"d")])
    data = first + second + third[:-5]  # the broker may cut the last batch at its byte limit
    decoded = list(read_batches(data))
    assert [(b.base_offset, b.last_offset) for b in decoded] == [(0, 1), (2, 2)]
    assert [r.value for b in decoded for r in b.records()] == [b"a", b"b", b"c"]
    assert list(read_batches(first[:11])) == []  # not even a length
    assert list(read_batches(b"")) == []


@pytest.mark.parametrize("codec", list(CODECS))
def test_every_codec_decodes(codec: str) -> None:
    records = [
        Rec(b"payload-%d " % i * 20, key=b"k%d" % i, headers=[("i", b"%d" % i)]) for i in range(50)
    ]
    decoded = only(batch(7, records, codec=codec))
    assert decoded.compression == CODECS[codec]
    assert [(r.offset, r.key, r.value, r.headers) for r in decoded.records()] == [
        (7 + i, r.key, r.value, tuple(r.headers)) for i, r in enumerate(records)
    ]


def test_xerial_framed_snappy_as_the_java_producer_writes_it() -> None:
    decoded = only(batch(0, [Rec(b"java " * 30)], codec="snappy", xerial=True))
    assert decoded.records()[0].value == b"java " * 30


@pytest.mark.parametrize(
    "entry", RECORDED["batches"], ids=lambda entry: f"{entry['producer']}-{entry['codec']}"
)
def test_batches_recorded_from_kafka_decode(entry: dict) -> None:
    """librdkafka and the Java producer, each codec, as the 4.4 broker served them."""
    decoded = list(read_batches(bytes.fromhex(entry["records"])))
    assert all(b.error is None for b in decoded)
    assert {b.compression for b in decoded} == {CODECS[entry["codec"]]}
    records = [r for b in decoded for r in b.records()]
    expected = [
        (
            None if e["key"] is None else e["key"].encode(),
            None if e["value"] is None else e["value"].encode(),
            tuple((k, None if v is None else v.encode()) for k, v in e["headers"]),
        )
        for e in entry["expected"]
    ]
    assert [(r.key, r.value, r.headers) for r in records] == expected
    assert [r.offset for r in records] == [0, 1, 2]


# -- what cannot be decoded -----------------------------------------------------------------


def test_crc_mismatch_is_reported_with_the_batch_extent_and_reading_goes_on() -> None:
    data = batch(0, [Rec(b"a"), Rec(b"b")], corrupt_crc=True) + batch(2, [Rec(b"c")])
    broken, good = list(read_batches(data))
    assert (broken.base_offset, broken.last_offset) == (0, 1)
    assert "CRC mismatch" in broken.error
    with pytest.raises(CorruptBatchError, match="CRC mismatch"):
        broken.records()
    assert [r.value for r in good.records()] == [b"c"]


def test_a_flipped_payload_byte_fails_the_crc() -> None:
    data = bytearray(batch(5, [Rec(b"hello world")]))
    data[-3] ^= 0x01
    assert "CRC mismatch" in only(bytes(data)).error
    assert (
        only(bytes(data)).error
        and list(read_batches(bytes(data), verify_crc=False))[0].error is None
    )


def test_bad_magic_and_impossible_length_end_the_reading() -> None:
    old = batch(3, [Rec(b"a")], magic=1)
    decoded = only(old + batch(4, [Rec(b"b")]))
    assert decoded.last_offset is None and "magic 1" in decoded.error
    tiny = struct.pack(">qi", 8, 10) + b"\x00" * 10
    decoded = only(tiny + batch(9, [Rec(b"b")]))
    assert decoded.base_offset == 8 and decoded.last_offset is None
    assert decoded.contains(10**9)


def test_garbage_compressed_payload_is_a_corrupt_batch() -> None:
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        data = bytearray(batch(0, [Rec(b"x" * 100)], codec=codec))
        data[BATCH_HEADER_SIZE:] = b"\xff" * (len(data) - BATCH_HEADER_SIZE)
        decoded = only(fix_crc(bytes(data)))
        assert decoded.error is None
        with pytest.raises(CorruptBatchError):
            decoded.records()


def test_records_that_overrun_their_batch_are_a_corrupt_batch() -> None:
    good = batch(0, [Rec(b"abc")])
    # Claim a record length far beyond the batch.
    data = good[:BATCH_HEADER_SIZE] + zigzag(500) + good[BATCH_HEADER_SIZE + 1 :]
    data = fix_crc(struct.pack(">qi", 0, len(data) - 12) + data[12:])
    with pytest.raises(CorruptBatchError, match="overruns|Invalid record size"):
        only(data).records()
    # Say two records where there is one.
    data = bytearray(good)
    struct.pack_into(">i", data, BATCH_HEADER_SIZE - 4, 2)
    with pytest.raises(CorruptBatchError):
        only(fix_crc(bytes(data))).records()


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(DecompressionError, match="unknown"):
        decompress(6, b"abc")
