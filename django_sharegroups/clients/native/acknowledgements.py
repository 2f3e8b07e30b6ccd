"""Acknowledgements waiting to be sent: collected from any thread, sent as offset ranges.

Workers may acknowledge while the owner thread fetches, so the buffer is locked; only the
owner thread takes from it. Per partition the latest word on an offset wins, except that a
RENEW never overrides a final type (ACCEPT/RELEASE/REJECT/GAP) not sent yet: renewing a record
already settled would only be refused by the broker.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...kafka.protocol.messages.share_consumer import (
    ACKNOWLEDGE_TYPE_ACCEPT,
    ACKNOWLEDGE_TYPE_GAP,
    ACKNOWLEDGE_TYPE_REJECT,
    ACKNOWLEDGE_TYPE_RELEASE,
    ACKNOWLEDGE_TYPE_RENEW,
)
from ..base import AcknowledgeType

WIRE_TYPES: dict[AcknowledgeType, int] = {
    AcknowledgeType.ACCEPT: ACKNOWLEDGE_TYPE_ACCEPT,
    AcknowledgeType.RELEASE: ACKNOWLEDGE_TYPE_RELEASE,
    AcknowledgeType.REJECT: ACKNOWLEDGE_TYPE_REJECT,
    AcknowledgeType.RENEW: ACKNOWLEDGE_TYPE_RENEW,
}
GAP = ACKNOWLEDGE_TYPE_GAP
RENEW = ACKNOWLEDGE_TYPE_RENEW


@dataclass(frozen=True, slots=True)
class TopicIdPartition:
    """A partition as share RPCs name it (by topic id), with the name for reporting."""

    topic_id: uuid.UUID
    topic: str
    partition: int

    def __hash__(self) -> int:
        # Hashed once per acknowledged record: the name and index hash in C, where the
        # generated hash would call UUID.__hash__ (Python) each time. Equality still compares
        # the topic id, so a topic recreated under the same name stays a different partition.
        return hash((self.topic, self.partition))


#: offset → wire acknowledge type, for one partition.
Offsets = dict[int, int]


class AcknowledgementBuffer:
    """Pending acknowledgements per partition (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[TopicIdPartition, Offsets] = {}

    def add(self, partition: TopicIdPartition, offset: int, wire_type: int) -> None:
        with self._lock:
            offsets = self._pending.get(partition)
            if offsets is None:
                offsets = self._pending[partition] = {}
            elif wire_type == RENEW and offsets.get(offset, RENEW) != RENEW:
                return
            offsets[offset] = wire_type

    def add_many(self, partition: TopicIdPartition, offsets: Iterable[int], wire_type: int) -> None:
        """``add`` for each offset, under one lock."""
        with self._lock:
            current = self._pending.get(partition)
            if current is None:
                current = self._pending[partition] = {}
            if wire_type != RENEW:
                current.update(dict.fromkeys(offsets, wire_type))
                return
            for offset in offsets:  # a RENEW never overwrites a final acknowledgement
                if current.get(offset, RENEW) == RENEW:
                    current[offset] = RENEW

    def take(
        self, wanted: Iterable[TopicIdPartition] | None = None
    ) -> dict[TopicIdPartition, Offsets]:
        """Remove and return the pending acknowledgements (of ``wanted`` partitions only)."""
        with self._lock:
            if wanted is None:
                taken, self._pending = self._pending, {}
                return taken
            return {p: self._pending.pop(p) for p in wanted if p in self._pending}

    def put_back(self, acknowledgements: Mapping[TopicIdPartition, Offsets]) -> None:
        """Return acknowledgements that could not be sent; newer words on an offset win."""
        with self._lock:
            for partition, offsets in acknowledgements.items():
                current = self._pending.setdefault(partition, {})
                for offset, wire_type in offsets.items():
                    current.setdefault(offset, wire_type)

    def partitions(self) -> set[TopicIdPartition]:
        with self._lock:
            return {p for p, offsets in self._pending.items() if offsets}

    def has_renewals(self) -> bool:
        with self._lock:
            return any(RENEW in offsets.values() for offsets in self._pending.values())

    def __bool__(self) -> bool:
        with self._lock:
            return any(self._pending.values())


def acknowledgement_batches(offsets: Offsets) -> list[dict]:
    """Offsets → AcknowledgementBatch entries: runs of consecutive offsets with one type each
    (one ``acknowledge_types`` entry covers the whole run). The usual case, a job's worth of
    consecutive ACCEPTs, is one entry found without a step per offset."""
    if not offsets:
        return []
    ordered = sorted(offsets)
    first = previous = ordered[0]
    kind = offsets[first]
    if ordered[-1] - first == len(ordered) - 1 and len(set(offsets.values())) == 1:
        return [_batch(first, ordered[-1], kind)]
    batches: list[dict] = []
    for offset in ordered[1:]:
        wire_type = offsets[offset]
        if offset != previous + 1 or wire_type != kind:
            batches.append(_batch(first, previous, kind))
            first, kind = offset, wire_type
        previous = offset
    batches.append(_batch(first, previous, kind))
    return batches


def _batch(first: int, last: int, kind: int) -> dict:
    return {"first_offset": first, "last_offset": last, "acknowledge_types": [kind]}


def renews(acknowledgements: Mapping[TopicIdPartition, Offsets]) -> bool:
    return any(RENEW in offsets.values() for offsets in acknowledgements.values())
