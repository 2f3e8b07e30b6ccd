"""From one partition of a ShareFetch answer to the records a member may process.

The broker sends whole batches but acquires only some offsets for this member (the
``AcquiredRecords`` ranges, each with its delivery count). Only acquired data records are
delivered. Every other acquired offset must still be settled, or it would come back until the
delivery limit archives it:

- inside a good batch but not a data record (control records, offsets compacted away): GAP;
- inside a batch that cannot be decoded (CRC mismatch, bad compression, broken records): the
  configured corrupt-batch action, RELEASE (it may decode next time, and the delivery limit
  archives it if never) or REJECT — and the batch is reported;
- in no batch at all (the answer was cut short): RELEASE, so that it comes back whole.

The acquired ranges are checked before anything is iterated or allocated for them (first ≤
last, no overlap, no more offsets than the fetch asked for): an answer that breaks these rules
raises :class:`InvalidAcquiredRecords` and is not delivered — its records come back when their
locks run out.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...kafka.errors import ProtocolError
from ..base import AcknowledgeType, ReceivedRecord
from .acknowledgements import GAP, WIRE_TYPES, TopicIdPartition
from .compression import DEFAULT_MAX_SIZE
from .records import CorruptBatchError, RecordBatch, read_batches

RELEASE = WIRE_TYPES[AcknowledgeType.RELEASE]
REJECT = WIRE_TYPES[AcknowledgeType.REJECT]

#: ``native.corrupt.batch.action`` values → acknowledge type.
CORRUPT_BATCH_ACTIONS = {"release": RELEASE, "reject": REJECT}
#: Acquired offsets one partition answer may hold when the caller does not say (a fetch in
#: record-limit mode never acquires more than its ``MaxRecords``, which the consumer passes).
DEFAULT_MAX_ACQUIRED = 1_000_000
_MAX_OFFSET = 2**63 - 1


class InvalidAcquiredRecords(ProtocolError):
    """A ShareFetch answer's acquired ranges contradict themselves or the request."""


@dataclass(frozen=True, slots=True)
class CorruptBatch:
    """A batch that could not be decoded, and what was done with its acquired records."""

    topic: str
    partition: int
    base_offset: int
    last_offset: int | None
    error: str
    action: str
    offsets: tuple[int, ...]


@dataclass
class PartitionDelivery:
    """What one partition of a ShareFetch answer yields."""

    records: list[ReceivedRecord] = field(default_factory=list)
    #: Offsets to settle without the application: offset → wire acknowledge type.
    acknowledgements: dict[int, int] = field(default_factory=dict)
    corrupt: list[CorruptBatch] = field(default_factory=list)


class AcquiredRanges:
    """The acquired offset ranges of one partition, with their delivery counts."""

    def __init__(
        self, ranges: Sequence[tuple[int, int, int]], max_offsets: int = DEFAULT_MAX_ACQUIRED
    ) -> None:
        self.ranges = sorted(ranges)
        total = 0
        previous_last = -1
        for first, last, count in self.ranges:
            if not 0 <= first <= last <= _MAX_OFFSET or first <= previous_last or count < 1:
                raise InvalidAcquiredRecords(
                    f"acquired range {first}-{last} (delivery count {count}) is impossible or "
                    "overlaps another"
                )
            previous_last = last
            total += last - first + 1
            if total > max_offsets:
                raise InvalidAcquiredRecords(
                    f"more than {max_offsets} acquired offsets (the fetch asked for at most that)"
                )
        self._total = total
        self._firsts = [first for first, _, _ in self.ranges]

    def delivery_count(self, offset: int) -> int | None:
        index = bisect.bisect_right(self._firsts, offset) - 1
        if index < 0:
            return None
        first, last, count = self.ranges[index]
        return count if offset <= last else None

    def __contains__(self, offset: int) -> bool:
        return self.delivery_count(offset) is not None

    def overlaps(self, first: int, last: int | None) -> bool:
        index = bisect.bisect_right(self._firsts, first) - 1
        if index >= 0 and self.ranges[index][1] >= first:
            return True
        following = index + 1
        return following < len(self.ranges) and (last is None or self.ranges[following][0] <= last)

    def offsets(self):
        for first, last, _ in self.ranges:
            yield from range(first, last + 1)

    def __len__(self) -> int:
        return self._total


class DecodedBatches:
    """Batches decoded recently, by partition, offset and CRC.

    With a record limit the broker acquires a few hundred records of a batch that may hold
    thousands, and sends the whole batch again with each fetch until all of it is acquired.
    Decoding it once and slicing it on later fetches keeps the cost per record flat.
    """

    def __init__(self, max_records: int = 20_000) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[tuple, tuple[list[int], Sequence[tuple]]] = OrderedDict()
        self._records = 0

    def records(
        self,
        partition: TopicIdPartition,
        batch: RecordBatch,
        ranges: AcquiredRanges,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> list[tuple[Sequence[tuple], int]]:
        """The batch's records at acquired offsets, per acquired range with its delivery
        count (decoding the batch on first use)."""
        key = (partition, batch.base_offset, batch.last_offset, batch.crc)
        entry = self._entries.get(key)
        if entry is None:
            records = batch.rows(max_size=max_size)
            entry = ([record[0] for record in records], records)
            self._entries[key] = entry
            self._records += len(records)
            while self._records > self.max_records and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._records -= len(evicted)
        else:
            self._entries.move_to_end(key)
        offsets, records = entry
        selected = []
        for first, last, count in ranges.ranges:
            low = bisect.bisect_left(offsets, first)
            high = bisect.bisect_right(offsets, last)
            if low < high:
                selected.append((records[low:high], count))
        return selected


def deliver_partition(
    partition: TopicIdPartition,
    data: bytes,
    acquired: Sequence[tuple[int, int, int]],
    *,
    corrupt_action: str = "release",
    verify_crc: bool = True,
    cache: DecodedBatches | None = None,
    max_acquired: int = DEFAULT_MAX_ACQUIRED,
    max_decompressed: int = DEFAULT_MAX_SIZE,
) -> PartitionDelivery:
    """Decode ``data`` and keep the acquired data records; settle the other acquired offsets.

    Raises :class:`InvalidAcquiredRecords` when ``acquired`` is impossible; a batch that
    cannot be decoded (or decompresses to more than ``max_decompressed`` bytes) is reported in
    the result's ``corrupt`` and its acquired offsets are settled by ``corrupt_action``.
    """
    result = PartitionDelivery()
    if not acquired:
        return result
    ranges = AcquiredRanges(acquired, max_acquired)
    good: list[RecordBatch] = []
    broken: list[tuple[RecordBatch, str]] = []
    delivered = 0
    append = result.records.append
    topic, index = partition.topic, partition.partition
    for batch in read_batches(data, verify_crc=verify_crc):
        if batch.error is not None:
            broken.append((batch, batch.error))
            continue
        if not ranges.overlaps(batch.base_offset, batch.last_offset):
            continue
        try:
            if cache is not None:
                groups = cache.records(partition, batch, ranges, max_decompressed)
            else:
                wanted = batch.records(wanted=ranges.__contains__, max_size=max_decompressed)
                groups = [([r], ranges.delivery_count(r.offset) or 1) for r in wanted]
        except CorruptBatchError as corrupt:
            broken.append((batch, str(corrupt)))
            continue
        good.append(batch)
        for records, count in groups:
            delivered += len(records)
            for offset, timestamp, key, value, headers in records:
                append(
                    ReceivedRecord(
                        topic,
                        index,
                        offset,
                        key,
                        value,
                        headers,
                        timestamp if timestamp >= 0 else None,
                        count,
                        partition,
                    )
                )
    if delivered == len(ranges):
        return result
    delivered_offsets = {record.offset for record in result.records}
    corrupt_type = CORRUPT_BATCH_ACTIONS[corrupt_action]
    corrupt_offsets: dict[int, list[int]] = {}
    broken_spans = _Spans(batch for batch, _ in broken)
    good_spans = _Spans(good)
    for offset in ranges.offsets():
        if offset in delivered_offsets:
            continue
        owner = broken_spans.find(offset)
        if owner is not None:
            result.acknowledgements[offset] = corrupt_type
            corrupt_offsets.setdefault(owner, []).append(offset)
        elif good_spans.find(offset) is not None:
            result.acknowledgements[offset] = GAP
        else:
            result.acknowledgements[offset] = RELEASE
    for index, offsets in corrupt_offsets.items():
        batch, error = broken[index]
        result.corrupt.append(
            CorruptBatch(
                partition.topic,
                partition.partition,
                batch.base_offset,
                batch.last_offset,
                error,
                corrupt_action,
                tuple(offsets),
            )
        )
    return result


class _Spans:
    """Which of some batches holds an offset: a bisect over their base offsets, not a scan."""

    def __init__(self, batches) -> None:
        spans = sorted(
            (b.base_offset, _MAX_OFFSET if b.last_offset is None else b.last_offset, index)
            for index, b in enumerate(batches)
        )
        self._bases = [base for base, _, _ in spans]
        self._spans = spans

    def find(self, offset: int) -> int | None:
        """The index (in the order given) of a batch holding ``offset``, or None."""
        position = bisect.bisect_right(self._bases, offset) - 1
        if position >= 0:
            _, last, index = self._spans[position]
            if offset <= last:
                return index
        return None
