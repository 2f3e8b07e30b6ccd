"""Topics and partition logs: append-only lists of records with offsets and timestamps.

The memory log never truncates (no retention, no compaction), so the log start offset is
always 0 and every produced record stays readable.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PartitionLog", "StoredRecord", "Topic"]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as the log holds it."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int


class PartitionLog:
    """One partition: offsets are list indices; timestamps kept for ``by_duration`` resets."""

    def __init__(self) -> None:
        self._records: list[StoredRecord] = []
        # Running maximum of timestamps, so "first offset at or after time T" is a bisect even
        # when producers supply timestamps out of order (Kafka's time index does the same).
        self._max_timestamps: list[int] = []

    @property
    def start_offset(self) -> int:
        return 0

    @property
    def end_offset(self) -> int:
        """The log end offset: the offset the next produced record will get."""
        return len(self._records)

    def append(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes | None], ...],
        timestamp_ms: int,
    ) -> int:
        offset = len(self._records)
        self._records.append(StoredRecord(offset, key, value, headers, timestamp_ms))
        previous = self._max_timestamps[-1] if self._max_timestamps else timestamp_ms
        self._max_timestamps.append(max(previous, timestamp_ms))
        return offset

    def read(self, offset: int) -> StoredRecord:
        return self._records[offset]

    def records(self) -> Sequence[StoredRecord]:
        return tuple(self._records)

    def offset_for_timestamp(self, timestamp_ms: int) -> int:
        """The first offset whose timestamp is at or after ``timestamp_ms``, else the end."""
        return bisect.bisect_left(self._max_timestamps, timestamp_ms)


class Topic:
    """A named list of partitions plus the round-robin position for records without a key."""

    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = [PartitionLog() for _ in range(partitions)]
        self.next_unkeyed_partition = 0

    def add_partitions(self, total: int) -> None:
        self.partitions.extend(PartitionLog() for _ in range(total - len(self.partitions)))
