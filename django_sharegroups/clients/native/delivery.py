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
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..base import AcknowledgeType, ReceivedRecord
from .acknowledgements import GAP, WIRE_TYPES, TopicIdPartition
from .records import CorruptBatchError, Record, RecordBatch, read_batches

RELEASE = WIRE_TYPES[AcknowledgeType.RELEASE]
REJECT = WIRE_TYPES[AcknowledgeType.REJECT]

#: ``native.corrupt.batch.action`` values → acknowledge type.
CORRUPT_BATCH_ACTIONS = {"release": RELEASE, "reject": REJECT}


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

    def __init__(self, ranges: Sequence[tuple[int, int, int]]) -> None:
        self.ranges = sorted(ranges)
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
        return sum(last - first + 1 for first, last, _ in self.ranges)


class DecodedBatches:
    """Batches decoded recently, by partition, offset and CRC.

    With a record limit the broker acquires a few hundred records of a batch that may hold
    thousands, and sends the whole batch again with each fetch until all of it is acquired.
    Decoding it once and slicing it on later fetches keeps the cost per record flat.
    """

    def __init__(self, max_records: int = 20_000) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[tuple, tuple[list[int], list[Record]]] = OrderedDict()
        self._records = 0

    def records(
        self, partition: TopicIdPartition, batch: RecordBatch, ranges: AcquiredRanges
    ) -> list[tuple[list[Record], int]]:
        """The batch's records at acquired offsets, per acquired range with its delivery
        count (decoding the batch on first use)."""
        key = (partition, batch.base_offset, batch.last_offset, batch.crc)
        entry = self._entries.get(key)
        if entry is None:
            records = batch.records()
            entry = ([record.offset for record in records], records)
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
) -> PartitionDelivery:
    """Decode ``data`` and keep the acquired data records; settle the other acquired offsets."""
    result = PartitionDelivery()
    if not acquired:
        return result
    ranges = AcquiredRanges(acquired)
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
                groups = cache.records(partition, batch, ranges)
            else:
                wanted = batch.records(wanted=ranges.__contains__)
                groups = [([r], ranges.delivery_count(r.offset) or 1) for r in wanted]
        except CorruptBatchError as corrupt:
            broken.append((batch, str(corrupt)))
            continue
        good.append(batch)
        for records, count in groups:
            delivered += len(records)
            for r in records:
                timestamp = r.timestamp_ms if r.timestamp_ms >= 0 else None
                append(
                    ReceivedRecord(
                        topic,
                        index,
                        r.offset,
                        r.key,
                        r.value,
                        r.headers,
                        timestamp,
                        count,
                        partition,
                    )
                )
    if delivered == len(ranges):
        return result
    delivered_offsets = {record.offset for record in result.records}
    corrupt_type = CORRUPT_BATCH_ACTIONS[corrupt_action]
    corrupt_offsets: dict[int, list[int]] = {}
    for offset in ranges.offsets():
        if offset in delivered_offsets:
            continue
        owner = next((i for i, (b, _) in enumerate(broken) if b.contains(offset)), None)
        if owner is not None:
            result.acknowledgements[offset] = corrupt_type
            corrupt_offsets.setdefault(owner, []).append(offset)
        elif any(batch.contains(offset) for batch in good):
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
