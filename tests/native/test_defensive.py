"""Answers and batches that lie: impossible acquired ranges, records that overrun their batch,
and decompression bombs are refused before anything is allocated or iterated for them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from django_sharegroups.clients.native.acknowledgements import TopicIdPartition
from django_sharegroups.clients.native.delivery import (
    RELEASE,
    InvalidAcquiredRecords,
    deliver_partition,
)
from django_sharegroups.clients.native.records import CorruptBatchError, read_batches

from .batches import Rec, batch, encode_record

P0 = TopicIdPartition(uuid.UUID(int=1), "jobs", 0)
THREE = batch(0, [Rec(b"a"), Rec(b"b"), Rec(b"c")])


@pytest.mark.parametrize(
    "acquired",
    [
        [(2, 1, 1)],  # last < first
        [(-1, 2, 1)],  # negative offset
        [(0, 2**63, 1)],  # past the largest offset
        [(0, 10**8, 1)],  # more than the fetch asked for
        [(0, 2, 1), (2, 3, 1)],  # overlapping
        [(0, 2, 0)],  # delivery count 0
    ],
)
def test_impossible_acquired_ranges_are_refused_before_iterating(acquired) -> None:
    with pytest.raises(InvalidAcquiredRecords):
        deliver_partition(P0, THREE, acquired, max_acquired=500)


def test_the_acquired_limit_is_the_fetchs_record_limit() -> None:
    delivery = deliver_partition(P0, THREE, [(0, 2, 1)], max_acquired=3)
    assert [r.value for r in delivery.records] == [b"a", b"b", b"c"]
    with pytest.raises(InvalidAcquiredRecords, match="more than 2 acquired offsets"):
        deliver_partition(P0, THREE, [(0, 2, 1)], max_acquired=2)


def corrupt_error(data: bytes) -> str:
    """The error of the (only) batch in ``data``, whether framing or records are at fault."""
    (read,) = read_batches(data)
    if read.error is not None:
        return read.error
    with pytest.raises(CorruptBatchError) as caught:
        read.records()
    return str(caught.value)


def test_a_record_count_the_batch_cannot_hold_is_corrupt() -> None:
    assert "claims 1000 records in 3 offsets" in corrupt_error(
        batch(0, [Rec(b"a"), Rec(b"b"), Rec(b"c")], record_count=1000)
    )
    assert "claims -1 records" in corrupt_error(batch(0, [Rec(b"a")], record_count=-1))
    many = batch(0, [Rec(b"a")], record_count=900, last_offset_delta=999)
    assert "900 records cannot fit" in corrupt_error(many)


def test_lengths_that_overrun_their_record_are_corrupt(record_decoder) -> None:
    record = bytearray(encode_record(Rec(b"value", key=b"k"), 0))
    record[4] = 0x7E  # key length 63 in a record of 10 bytes
    error = corrupt_error(batch(0, [Rec(b"")], payload=bytes(record)))
    assert "key length 63 overruns" in error or "Can't read 63 bytes" in error


def test_offsets_out_of_order_are_corrupt(record_decoder) -> None:
    backwards = batch(0, [Rec(b"a", offset_delta=1), Rec(b"b", offset_delta=0)])
    assert "out of order" in corrupt_error(backwards)
    past_the_end = batch(0, [Rec(b"a", offset_delta=5)], last_offset_delta=2)
    assert "past the batch" in corrupt_error(past_the_end)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_a_batch_larger_than_the_cap_is_corrupt_and_settled(codec, record_decoder) -> None:
    records = [Rec(b"x" * 1000) for _ in range(50)]
    data = batch(0, records, codec=codec)
    assert len(deliver_partition(P0, data, [(0, 49, 1)]).records) == 50
    delivery = deliver_partition(
        P0, data, [(0, 49, 1)], corrupt_action="release", max_decompressed=10_000
    )
    assert delivery.records == []
    (corrupt,) = delivery.corrupt
    assert "decompresses to more than 10000 bytes" in corrupt.error
    assert delivery.acknowledgements == dict.fromkeys(range(50), RELEASE)


BOMB_SCRIPT = """
import json, resource, sys, time, uuid
import cramjam
from django_sharegroups.clients.native.acknowledgements import TopicIdPartition
from django_sharegroups.clients.native.delivery import deliver_partition
from tests.native.batches import Rec, batch

compressor = cramjam.zstd.Compressor(level=3)
chunk = bytes(16 * 1024 * 1024)
for _ in range(64):  # 1 GiB of zeros
    compressor.compress(chunk)
payload = bytes(compressor.finish())
del chunk
data = batch(0, [Rec(b"")], payload=payload, codec="zstd", record_count=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
partition = TopicIdPartition(uuid.UUID(int=1), "jobs", 0)
delivery = deliver_partition(partition, data, [(0, 0, 1)], max_decompressed=52_428_800)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "compressed": len(payload),
    "rss_growth_kib": after - before,
    "errors": [c.error for c in delivery.corrupt],
    "acknowledgements": {str(k): v for k, v in delivery.acknowledgements.items()},
}))
"""


def test_a_zstd_bomb_fails_fast_as_a_corrupt_batch_without_the_memory() -> None:
    """32 KB of zstd expanding to 1 GiB, decoded in a fresh process to measure its memory."""
    result = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT], capture_output=True, text=True, check=True
    )
    outcome = json.loads(result.stdout)
    assert outcome["compressed"] < 64 * 1024
    assert len(outcome["errors"]) == 1
    assert "decompresses to more than 52428800 bytes" in outcome["errors"][0]
    assert outcome["acknowledgements"] == {"0": RELEASE}
    # At most the cap (50 MiB) and some slack, never the gigabyte.
    assert outcome["rss_growth_kib"] < 120 * 1024, outcome


def test_batches_that_overlap_are_not_delivered_twice(record_decoder) -> None:
    """Found by the fuzzer: a frame repeating offsets delivered records twice."""
    data = batch(0, [Rec(b"a"), Rec(b"b")]) + batch(0, [Rec(b"a"), Rec(b"b"), Rec(b"c")])
    delivery = deliver_partition(P0, data, [(0, 2, 1)])
    assert [r.offset for r in delivery.records] == [0, 1]
    assert delivery.acknowledgements == {2: RELEASE}
    assert "overlaps the one before" in delivery.corrupt[0].error
