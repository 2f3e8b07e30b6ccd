"""The state of one share partition: which records a share group has delivered, and how.

Follows Kafka 4.4's ``SharePartition``: offsets from the share-partition start offset (SPSO)
up to the share-partition end offset (SPEO) are in flight, each Available, Acquired (by one
member, under an acquisition lock with a deadline), Acknowledged or Archived. The SPSO moves
past records in a terminal state (Acknowledged, Archived); new records are acquired at the
SPEO, at most ``share.partition.max.record.locks`` in flight.

Kafka stores the SPEO as the last in-flight offset; here ``end_offset`` is one past it (the
next new offset to acquire), so ``end_offset - start_offset`` is the in-flight count.

Not thread-safe: the broker calls it under its lock.
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..base import AcknowledgeType
from .config import ShareLimits
from .events import BrokerEvent, EventKind

__all__ = [
    "ArchiveReason",
    "ArchivedRecord",
    "RecordState",
    "RecordView",
    "SharePartition",
    "SharePartitionView",
]

#: Kafka's ``MINIMUM_THROTTLE_RECORDS_DELIVERY_LIMIT``.
_MINIMUM_THROTTLE_DELIVERY_COUNT = 2


class RecordState(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    ACQUIRED = "ACQUIRED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ARCHIVED = "ARCHIVED"

    @property
    def is_terminal(self) -> bool:
        return self in (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)


class ArchiveReason(enum.StrEnum):
    """Why a record was archived (Kafka's DLQ manager calls these CLIENT_REJECT and
    DELIVERY_COUNT_EXCEEDED)."""

    REJECTED = "REJECTED"
    DELIVERY_COUNT_EXCEEDED = "DELIVERY_COUNT_EXCEEDED"


@dataclass(frozen=True, slots=True)
class RecordView:
    """A read-only picture of one offset's state, for tests and admin views."""

    offset: int
    state: RecordState
    delivery_count: int
    member_id: str | None = None
    lock_deadline_ms: int | None = None
    archive_reason: ArchiveReason | None = None


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    """A record the share group will never see again, and why."""

    group_id: str
    topic: str
    partition: int
    offset: int
    delivery_count: int
    reason: ArchiveReason
    #: The member that held it last (the rejecter, or the one whose lock ran out).
    member_id: str | None
    archived_at_ms: int


@dataclass(frozen=True, slots=True)
class SharePartitionView:
    """A read-only picture of a share partition; ``records`` covers SPSO..SPEO."""

    group_id: str
    topic: str
    partition: int
    start_offset: int
    end_offset: int
    in_flight_count: int
    acquired_count: int
    available_count: int
    records: tuple[RecordView, ...]


class _InFlightRecord:
    __slots__ = (
        "state",
        "delivery_count",
        "member_id",
        "lock_deadline_ms",
        "lock_token",
        "archive_reason",
    )

    def __init__(self) -> None:
        self.state = RecordState.AVAILABLE
        self.delivery_count = 0
        self.member_id: str | None = None
        self.lock_deadline_ms: int | None = None
        self.lock_token = 0
        self.archive_reason: ArchiveReason | None = None


class SharePartition:
    """Delivery state of one (share group, topic, partition)."""

    def __init__(
        self,
        group_id: str,
        topic: str,
        partition: int,
        start_offset: int,
        emit: Callable[[BrokerEvent], None] | None = None,
    ) -> None:
        self.group_id = group_id
        self.topic = topic
        self.partition = partition
        self.start_offset = start_offset
        self.end_offset = start_offset
        self._emit = emit
        # Every offset ever acquired stays here with its final state, so tests can ask about
        # any offset, not only the in-flight ones.
        self._records: dict[int, _InFlightRecord] = {}
        self._available: list[int] = []  # heap: in-flight offsets back in AVAILABLE
        self._locks: list[tuple[int, int, int]] = []  # heap: (deadline, token, offset)
        self._acquired_by: dict[str, set[int]] = {}
        self._archived: list[ArchivedRecord] = []
        self._next_token = 0

    # -- acquisition -------------------------------------------------------------------

    def acquire(
        self,
        member_id: str,
        max_records: int,
        log_end_offset: int,
        now_ms: int,
        limits: ShareLimits,
    ) -> list[tuple[int, int]]:
        """Acquire up to ``max_records`` for ``member_id``; return ``(offset, delivery_count)``.

        Available in-flight records come first, lowest offset first, then new records at the
        SPEO while fewer than ``max_record_locks`` are in flight. A record already delivered
        at least half the delivery limit is delivered alone (Kafka 4.4's delivery throttling,
        which isolates poison records; the memory log has one record per batch).
        """
        acquired: list[tuple[int, int]] = []
        room = limits.max_record_locks - (self.end_offset - self.start_offset)
        budget = min(max_records, room) if room > 0 else max_records
        throttle_from = max(
            _MINIMUM_THROTTLE_DELIVERY_COUNT, math.ceil(limits.delivery_count_limit / 2)
        )
        while len(acquired) < budget and self._available:
            offset = self._available[0]
            record = self._records[offset]
            if record.state is not RecordState.AVAILABLE or offset < self.start_offset:
                heapq.heappop(self._available)  # stale entry
                continue
            throttled = record.delivery_count >= throttle_from
            if throttled and acquired:
                return acquired
            heapq.heappop(self._available)
            delivery_count = self._acquire_record(offset, record, member_id, now_ms, limits)
            acquired.append((offset, delivery_count))
            if throttled:
                return acquired
        if room > 0:
            while len(acquired) < budget and self.end_offset < log_end_offset:
                offset = self.end_offset
                self.end_offset += 1
                record = self._records[offset] = _InFlightRecord()
                acquired.append(
                    (offset, self._acquire_record(offset, record, member_id, now_ms, limits))
                )
        return acquired

    def _acquire_record(
        self, offset: int, record: _InFlightRecord, member_id: str, now_ms: int, limits: ShareLimits
    ) -> int:
        record.state = RecordState.ACQUIRED
        record.delivery_count += 1
        record.member_id = member_id
        self._lock(offset, record, now_ms + limits.lock_duration_ms)
        self._acquired_by.setdefault(member_id, set()).add(offset)
        self._event(EventKind.ACQUIRED, offset, record)
        return record.delivery_count

    def _lock(self, offset: int, record: _InFlightRecord, deadline_ms: int) -> None:
        self._next_token += 1
        record.lock_token = self._next_token
        record.lock_deadline_ms = deadline_ms
        heapq.heappush(self._locks, (deadline_ms, record.lock_token, offset))

    # -- acknowledgement ---------------------------------------------------------------

    def acknowledge(
        self,
        member_id: str,
        offset: int,
        ack_type: AcknowledgeType,
        now_ms: int,
        limits: ShareLimits,
    ) -> str | None:
        """Apply one acknowledgement; return Kafka's error name if refused, else ``None``.

        An offset before the SPSO is finished already (acknowledged or archived, perhaps by
        another member after this one's lock ran out): Kafka skips such acknowledgements
        without an error ("already archived"), and so does this.
        """
        if offset < self.start_offset:
            return None
        if offset >= self.end_offset:
            return "INVALID_REQUEST"  # Kafka: "offset in request is past acquired records"
        record = self._records.get(offset)
        if record is None or record.state is not RecordState.ACQUIRED:
            return "INVALID_RECORD_STATE"
        if record.member_id != member_id:
            return "INVALID_RECORD_STATE"  # Kafka: "Member is not the owner of offset"
        if ack_type is AcknowledgeType.RENEW:
            if not limits.renew_enabled:
                return "INVALID_RECORD_STATE"
            self._lock(offset, record, now_ms + limits.lock_duration_ms)
            self._event(EventKind.RENEWED, offset, record)
            return None
        self._unlock(offset, record)
        if ack_type is AcknowledgeType.ACCEPT:
            record.state = RecordState.ACKNOWLEDGED
            self._event(EventKind.ACCEPTED, offset, record, member_id=member_id)
        elif ack_type is AcknowledgeType.RELEASE:
            self._event(EventKind.RELEASED, offset, record, member_id=member_id)
            self._release(offset, record, member_id, now_ms, limits)
        else:
            self._event(EventKind.REJECTED, offset, record, member_id=member_id)
            self._archive(offset, record, ArchiveReason.REJECTED, member_id, now_ms)
        self._advance_start_offset()
        return None

    def release_member(self, member_id: str, now_ms: int, limits: ShareLimits) -> int:
        """Release everything ``member_id`` holds (it left the group); return how many."""
        offsets = sorted(self._acquired_by.get(member_id, ()))
        for offset in offsets:
            record = self._records[offset]
            self._unlock(offset, record)
            self._event(EventKind.RELEASED, offset, record, member_id=member_id)
            self._release(offset, record, member_id, now_ms, limits)
        self._advance_start_offset()
        return len(offsets)

    def expire_locks(self, now_ms: int, limits: ShareLimits) -> int:
        """Return records whose acquisition lock ran out to Available (Archived at the limit)."""
        expired = 0
        while self._locks and self._locks[0][0] <= now_ms:
            _, token, offset = heapq.heappop(self._locks)
            record = self._records.get(offset)
            if record is None or record.state is not RecordState.ACQUIRED:
                continue
            if record.lock_token != token:
                continue  # renewed since; a newer entry is in the heap
            member_id = record.member_id
            self._unlock(offset, record)
            self._event(EventKind.LOCK_EXPIRED, offset, record, member_id=member_id)
            self._release(offset, record, member_id, now_ms, limits)
            expired += 1
        if expired:
            self._advance_start_offset()
        return expired

    def next_lock_deadline_ms(self) -> int | None:
        while self._locks:
            deadline, token, offset = self._locks[0]
            record = self._records.get(offset)
            if record is not None and record.state is RecordState.ACQUIRED:
                if record.lock_token == token:
                    return deadline
            heapq.heappop(self._locks)
        return None

    def _unlock(self, offset: int, record: _InFlightRecord) -> None:
        held = self._acquired_by.get(record.member_id or "")
        if held is not None:
            held.discard(offset)
            if not held:
                del self._acquired_by[record.member_id or ""]
        record.member_id = None
        record.lock_deadline_ms = None
        record.lock_token = 0

    def _release(
        self,
        offset: int,
        record: _InFlightRecord,
        member_id: str | None,
        now_ms: int,
        limits: ShareLimits,
    ) -> None:
        if record.delivery_count >= limits.delivery_count_limit:
            self._archive(offset, record, ArchiveReason.DELIVERY_COUNT_EXCEEDED, member_id, now_ms)
        else:
            record.state = RecordState.AVAILABLE
            heapq.heappush(self._available, offset)

    def _archive(
        self,
        offset: int,
        record: _InFlightRecord,
        reason: ArchiveReason,
        member_id: str | None,
        now_ms: int,
    ) -> None:
        record.state = RecordState.ARCHIVED
        record.archive_reason = reason
        self._archived.append(
            ArchivedRecord(
                self.group_id,
                self.topic,
                self.partition,
                offset,
                record.delivery_count,
                reason,
                member_id,
                now_ms,
            )
        )
        self._event(EventKind.ARCHIVED, offset, record, member_id=member_id, reason=reason.value)

    def _advance_start_offset(self) -> None:
        while self.start_offset < self.end_offset:
            if not self._records[self.start_offset].state.is_terminal:
                return
            self.start_offset += 1

    # -- administration ----------------------------------------------------------------

    def reset(self, offset: int) -> None:
        """Start over at ``offset`` (AlterShareGroupOffsets; only while the group is empty)."""
        self.start_offset = self.end_offset = offset
        self._records = {o: r for o, r in self._records.items() if r.state.is_terminal}
        self._available.clear()
        self._locks.clear()
        self._acquired_by.clear()

    # -- inspection --------------------------------------------------------------------

    def in_flight_count(self) -> int:
        return self.end_offset - self.start_offset

    def acquired_count(self, member_id: str | None = None) -> int:
        if member_id is not None:
            return len(self._acquired_by.get(member_id, ()))
        return sum(len(offsets) for offsets in self._acquired_by.values())

    def acquired_offsets(self, member_id: str) -> list[int]:
        return sorted(self._acquired_by.get(member_id, ()))

    def lag(self, log_end_offset: int) -> int:
        """Records not yet delivered to completion (Kafka: HWM - SPSO - terminal in flight)."""
        terminal = sum(
            1
            for offset in range(self.start_offset, self.end_offset)
            if self._records[offset].state.is_terminal
        )
        return log_end_offset - self.start_offset - terminal

    def record_view(self, offset: int) -> RecordView | None:
        record = self._records.get(offset)
        if record is None:
            return None
        return RecordView(
            offset,
            record.state,
            record.delivery_count,
            record.member_id,
            record.lock_deadline_ms,
            record.archive_reason,
        )

    def view(self) -> SharePartitionView:
        records = tuple(
            view
            for offset in range(self.start_offset, self.end_offset)
            if (view := self.record_view(offset)) is not None
        )
        return SharePartitionView(
            self.group_id,
            self.topic,
            self.partition,
            self.start_offset,
            self.end_offset,
            self.in_flight_count(),
            self.acquired_count(),
            sum(1 for r in records if r.state is RecordState.AVAILABLE),
            records,
        )

    def archived(self) -> list[ArchivedRecord]:
        return list(self._archived)

    def _event(
        self,
        kind: EventKind,
        offset: int,
        record: _InFlightRecord,
        *,
        member_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        if self._emit is None:
            return
        self._emit(
            BrokerEvent(
                kind,
                self.group_id,
                member_id if member_id is not None else record.member_id,
                self.topic,
                self.partition,
                offset,
                record.delivery_count,
                reason,
            )
        )
