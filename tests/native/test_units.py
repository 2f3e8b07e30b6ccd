"""The native adapter's pieces without a broker: acknowledgement ranges, share-session
requests, and what one partition of a ShareFetch answer delivers (incl. corrupt batches)."""

from __future__ import annotations

import itertools
import random
import threading
import uuid

import pytest

from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.native.acknowledgements import (
    GAP,
    RENEW,
    WIRE_TYPES,
    AcknowledgementBuffer,
    TopicIdPartition,
    acknowledgement_batches,
)
from django_sharegroups.clients.native.delivery import AcquiredRanges, deliver_partition
from django_sharegroups.clients.native.sessions import ShareSession

from .batches import Rec, batch, control_batch, fix_crc

ACCEPT = WIRE_TYPES[AcknowledgeType.ACCEPT]
RELEASE = WIRE_TYPES[AcknowledgeType.RELEASE]
REJECT = WIRE_TYPES[AcknowledgeType.REJECT]
TOPIC_ID = uuid.UUID(int=7)
P0 = TopicIdPartition(TOPIC_ID, "jobs", 0)
P1 = TopicIdPartition(TOPIC_ID, "jobs", 1)


# -- acknowledgements -----------------------------------------------------------------------


def test_wire_types_are_kafkas() -> None:
    assert [WIRE_TYPES[t] for t in AcknowledgeType] == [1, 2, 3, 4]
    assert GAP == 0


def test_consecutive_offsets_of_one_type_become_one_range() -> None:
    offsets = {5: ACCEPT, 6: ACCEPT, 7: ACCEPT, 9: ACCEPT, 10: RELEASE, 11: RELEASE, 12: ACCEPT}
    assert acknowledgement_batches(offsets) == [
        {"first_offset": 5, "last_offset": 7, "acknowledge_types": [ACCEPT]},
        {"first_offset": 9, "last_offset": 9, "acknowledge_types": [ACCEPT]},
        {"first_offset": 10, "last_offset": 11, "acknowledge_types": [RELEASE]},
        {"first_offset": 12, "last_offset": 12, "acknowledge_types": [ACCEPT]},
    ]
    assert acknowledgement_batches({}) == []


def test_ranges_cover_every_offset_once_and_never_split_a_run() -> None:
    rng = random.Random(11)
    for _ in range(300):
        start = rng.randrange(0, 50)
        offsets = {
            o: rng.choice([ACCEPT, ACCEPT, ACCEPT, RELEASE, REJECT])
            for o in range(start, start + rng.randrange(1, 40))
            if rng.random() < 0.9
        }
        batches = acknowledgement_batches(offsets)
        covered = {
            o: b["acknowledge_types"][0]
            for b in batches
            for o in range(b["first_offset"], b["last_offset"] + 1)
        }
        assert covered == offsets
        assert sum(b["last_offset"] - b["first_offset"] + 1 for b in batches) == len(offsets)
        for before, after in itertools.pairwise(batches):
            assert before["last_offset"] < after["first_offset"]
            assert (
                before["last_offset"] + 1 < after["first_offset"]
                or before["acknowledge_types"] != after["acknowledge_types"]
            )


def test_a_renew_never_overrides_a_final_acknowledgement_not_sent_yet() -> None:
    buffer = AcknowledgementBuffer()
    buffer.add(P0, 1, ACCEPT)
    buffer.add(P0, 1, RENEW)
    buffer.add(P0, 2, RENEW)
    buffer.add(P0, 2, REJECT)
    buffer.add(P0, 3, RENEW)
    buffer.add(P0, 3, RENEW)
    assert buffer.has_renewals()
    assert buffer.take() == {P0: {1: ACCEPT, 2: REJECT, 3: RENEW}}
    assert not buffer and buffer.take() == {}


def test_add_many_follows_the_rules_of_add() -> None:
    one, many = AcknowledgementBuffer(), AcknowledgementBuffer()
    steps = [([1, 2], ACCEPT), ([2, 3], RENEW), ([4], RENEW), ([4, 5], REJECT), ([6], RELEASE)]
    for offsets, wire_type in steps:
        many.add_many(P0, offsets, wire_type)
        for offset in offsets:
            one.add(P0, offset, wire_type)
    assert (
        many.take()
        == one.take()
        == {P0: {1: ACCEPT, 2: ACCEPT, 3: RENEW, 4: REJECT, 5: REJECT, 6: RELEASE}}
    )


def test_put_back_keeps_newer_words() -> None:
    buffer = AcknowledgementBuffer()
    buffer.add(P0, 1, ACCEPT)
    taken = buffer.take()
    buffer.add(P0, 1, REJECT)
    buffer.put_back(taken)
    buffer.add(P1, 4, RELEASE)
    assert buffer.take([P0]) == {P0: {1: REJECT}}
    assert buffer.partitions() == {P1}


def test_acknowledging_from_many_threads_loses_nothing() -> None:
    buffer = AcknowledgementBuffer()

    def work(start: int) -> None:
        for offset in range(start, start + 1000):
            buffer.add(P0, offset, ACCEPT)

    threads = [threading.Thread(target=work, args=(i * 1000,)) for i in range(8)]
    taken: dict[int, int] = {}
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        taken.update(buffer.take().get(P0, {}))
    taken.update(buffer.take().get(P0, {}))
    assert sorted(taken) == list(range(8000))


# -- share sessions -------------------------------------------------------------------------


def test_a_session_opens_with_epoch_zero_and_every_partition() -> None:
    session = ShareSession(1, "g", "m")
    request = session.fetch_request({P0, P1}, {}, max_records=5, max_wait_ms=100, max_bytes=99)
    assert request["share_session_epoch"] == 0
    assert request["max_records"] == request["batch_size"] == 5
    assert request["share_acquire_mode"] == 1 and request["is_renew_ack"] is False
    assert [p["partition_index"] for p in request["topics"][0]["partitions"]] == [0, 1]
    assert request["forgotten_topics_data"] == []
    whole = session.fetch_request(
        {P0}, {}, max_records=5, max_wait_ms=0, max_bytes=99, whole_batches=True
    )
    assert whole["share_acquire_mode"] == 0 and whole["max_records"] == 5  # batch-optimized
    with pytest.raises(ValueError, match="before it is open"):
        session.fetch_request({P0}, {P0: {1: ACCEPT}}, max_records=1, max_wait_ms=0, max_bytes=1)
    with pytest.raises(ValueError, match="before it is open"):
        session.acknowledge_request({P0: {1: ACCEPT}})


def test_later_requests_send_only_changes_and_acknowledgements() -> None:
    session = ShareSession(1, "g", "m")
    session.partitions = {P0, P1}
    session.advance()
    request = session.fetch_request(
        {P0}, {P0: {3: ACCEPT}}, max_records=2, max_wait_ms=0, max_bytes=1
    )
    assert request["share_session_epoch"] == 1
    (topic,) = request["topics"]
    assert topic["partitions"] == [
        {
            "partition_index": 0,
            "acknowledgement_batches": [
                {"first_offset": 3, "last_offset": 3, "acknowledge_types": [ACCEPT]}
            ],
        }
    ]
    assert request["forgotten_topics_data"] == [{"topic_id": TOPIC_ID, "partitions": [1]}]
    quiet = session.fetch_request({P0, P1}, {}, max_records=2, max_wait_ms=0, max_bytes=1)
    assert quiet["topics"] == [] and quiet["forgotten_topics_data"] == []


def test_renewals_go_by_share_acknowledge_with_the_flag() -> None:
    session = ShareSession(1, "g", "m")
    session.advance()
    with pytest.raises(ValueError, match="RENEW"):
        session.fetch_request({P0}, {P0: {1: RENEW}}, max_records=1, max_wait_ms=0, max_bytes=1)
    request = session.acknowledge_request({P0: {1: RENEW, 2: ACCEPT}})
    assert request["is_renew_ack"] is True and request["share_session_epoch"] == 1
    assert session.acknowledge_request({P0: {2: ACCEPT}})["is_renew_ack"] is False
    assert session.acknowledge_request({}, close=True)["share_session_epoch"] == -1


def test_epochs_wrap_to_one_and_reset_to_zero() -> None:
    session = ShareSession(1, "g", "m")
    session.epoch = 2**31 - 1
    session.advance()
    assert session.epoch == 1
    session.partitions = {P0}
    session.reset()
    assert session.epoch == 0 and not session.partitions and not session.opened


# -- delivering one partition -----------------------------------------------------------------


def values(delivery) -> list[tuple[int, bytes | None, int]]:
    return [(r.offset, r.value, r.delivery_count) for r in delivery.records]


def test_only_acquired_records_are_delivered_with_their_delivery_counts() -> None:
    data = batch(0, [Rec(b"%d" % i) for i in range(10)])
    delivery = deliver_partition(P0, data, [(2, 3, 1), (7, 7, 3)])
    assert values(delivery) == [(2, b"2", 1), (3, b"3", 1), (7, b"7", 3)]
    assert delivery.acknowledgements == {} and delivery.corrupt == []
    record = delivery.records[0]
    assert (record.topic, record.partition, record.handle) == ("jobs", 0, P0)
    assert deliver_partition(P0, data, []).records == []


def test_acquired_offsets_without_a_data_record_are_gaps() -> None:
    data = batch(0, [Rec(b"a"), Rec(b"c", offset_delta=2)]) + control_batch(3)
    delivery = deliver_partition(P0, data, [(0, 3, 1)])
    assert values(delivery) == [(0, b"a", 1), (2, b"c", 1)]
    assert delivery.acknowledgements == {1: GAP, 3: GAP}


@pytest.mark.parametrize(("action", "wire_type"), [("release", RELEASE), ("reject", REJECT)])
def test_a_batch_with_a_bad_crc_is_reported_and_settled_by_policy(action, wire_type) -> None:
    data = (
        batch(0, [Rec(b"a"), Rec(b"b")])
        + batch(2, [Rec(b"c"), Rec(b"d")], corrupt_crc=True)
        + batch(4, [Rec(b"e")])
    )
    delivery = deliver_partition(P0, data, [(1, 4, 2)], corrupt_action=action)
    assert values(delivery) == [(1, b"b", 2), (4, b"e", 2)]
    assert delivery.acknowledgements == {2: wire_type, 3: wire_type}
    (corrupt,) = delivery.corrupt
    assert (corrupt.topic, corrupt.partition, corrupt.base_offset, corrupt.last_offset) == (
        "jobs",
        0,
        2,
        3,
    )
    assert "CRC mismatch" in corrupt.error
    assert corrupt.action == action and corrupt.offsets == (2, 3)


def test_undecodable_compression_is_a_corrupt_batch_too() -> None:
    good = bytearray(batch(0, [Rec(b"x" * 50)], codec="zstd"))
    good[-4:] = b"\x00\x00\x00\x00"
    delivery = deliver_partition(P0, fix_crc(bytes(good)), [(0, 0, 1)], corrupt_action="reject")
    assert delivery.records == [] and delivery.acknowledgements == {0: REJECT}
    assert "zstd" in delivery.corrupt[0].error


def test_acquired_offsets_beyond_the_data_are_released() -> None:
    full = batch(0, [Rec(b"a")]) + batch(1, [Rec(b"b"), Rec(b"c")])
    cut = full[:-4]  # the second batch did not fit into the answer
    delivery = deliver_partition(P0, cut, [(0, 2, 1)])
    assert values(delivery) == [(0, b"a", 1)]
    assert delivery.acknowledgements == {1: RELEASE, 2: RELEASE}
    assert delivery.corrupt == []


def test_broken_framing_covers_every_later_offset() -> None:
    data = batch(0, [Rec(b"a")]) + batch(1, [Rec(b"b")], magic=1)
    delivery = deliver_partition(P0, data, [(0, 5, 1)], corrupt_action="release")
    assert values(delivery) == [(0, b"a", 1)]
    assert delivery.acknowledgements == {o: RELEASE for o in range(1, 6)}
    assert delivery.corrupt[0].last_offset is None and delivery.corrupt[0].offsets == (
        1,
        2,
        3,
        4,
        5,
    )


def test_acquired_ranges_lookup() -> None:
    ranges = AcquiredRanges([(10, 12, 2), (0, 3, 1), (20, 20, 5)])
    assert [ranges.delivery_count(o) for o in (0, 3, 4, 10, 12, 13, 20, 21, -1)] == [
        1,
        1,
        None,
        2,
        2,
        None,
        5,
        None,
        None,
    ]
    assert len(ranges) == 8 and list(ranges.offsets())[:5] == [0, 1, 2, 3, 10]
    assert ranges.overlaps(4, 9) is False and ranges.overlaps(4, 10) is True
    assert ranges.overlaps(12, 15) is True and ranges.overlaps(21, None) is False
    assert ranges.overlaps(13, None) is True


def test_a_batch_is_decoded_once_and_sliced_on_later_fetches(monkeypatch) -> None:
    from django_sharegroups.clients.native import records as records_module
    from django_sharegroups.clients.native.delivery import DecodedBatches

    data = batch(0, [Rec(b"%d" % i) for i in range(1000)], codec="lz4")
    calls = []
    real = records_module.decompress
    monkeypatch.setattr(records_module, "decompress", lambda *a: calls.append(1) or real(*a))
    cache = DecodedBatches()
    delivered = []
    for first in range(0, 1000, 300):
        last = min(first + 299, 999)
        delivery = deliver_partition(P0, data, [(first, last, 1)], cache=cache)
        delivered += [r.value for r in delivery.records]
    assert delivered == [b"%d" % i for i in range(1000)]
    assert len(calls) == 1
    redelivered = deliver_partition(P0, data, [(5, 6, 3), (900, 900, 2)], cache=cache)
    assert values(redelivered) == [(5, b"5", 3), (6, b"6", 3), (900, b"900", 2)]
    assert len(calls) == 1


def test_decoded_batches_are_bounded() -> None:
    from django_sharegroups.clients.native.delivery import DecodedBatches

    cache = DecodedBatches(max_records=250)
    for base in range(0, 1000, 100):
        deliver_partition(P0, batch(base, [Rec(b"x")] * 100), [(base, base, 1)], cache=cache)
    assert cache._records <= 250 and len(cache._entries) == 2
