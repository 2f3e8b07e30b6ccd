"""The in-memory share broker: topics, produce, share groups, and the share-group data plane.

One lock guards everything, so the broker is safe to share between threads (every member of
every group in a test, plus producers). Time-driven changes (acquisition lock expiry, members
that stopped heartbeating) are applied lazily at the start of every operation and whenever a
``ManualClock`` is advanced, so nothing runs in the background.

``poll`` waits on a condition that produce, release, lock expiry, member changes and clock
advances all signal. Its ``timeout`` is real time (it is a network wait in Kafka), also with
a ``ManualClock``: a poll that finds nothing returns after ``timeout`` real seconds, so tests
pass ``timeout=0`` or a small value.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ...kafka.names import TOPIC_NAME_RULE, is_topic_name
from ..base import AcknowledgementFailure, AcknowledgeType, ReceivedRecord
from .clock import Clock, SystemClock
from .config import AutoOffsetReset, BrokerConfig, ShareLimits
from .errors import BrokerError
from .events import BrokerEvent, EventKind
from .group import (
    Member,
    MemberDescription,
    ShareGroup,
    ShareGroupDescription,
    SharePartitionOffsets,
)
from .log import PartitionLog, StoredRecord, Topic
from .partitioner import PARTITIONERS
from .share_partition import ArchivedRecord, RecordView, SharePartition, SharePartitionView

__all__ = ["MemoryBroker", "default_broker", "reset_default_broker"]

logger = logging.getLogger(__name__)


Headers = Mapping[str, bytes | str | None] | Sequence[tuple[str, bytes | str | None]]


class MemoryBroker:
    """A single-process Kafka broker for share groups (KIP-932), with Kafka 4.4 semantics.

    ``config`` takes broker settings by their Kafka names (``group.share.delivery.count.limit``,
    ``group.share.min.record.lock.duration.ms``, ``num.partitions``, ...). ``partitioner`` is
    ``"murmur2"`` (Kafka's Java default) or ``"crc32"`` (librdkafka's ``consistent``).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        config: Mapping[str, Any] | None = None,
        partitioner: str = "murmur2",
    ) -> None:
        self._clock = clock or SystemClock()
        self._config = BrokerConfig(config)
        self._partition_for_key = PARTITIONERS[partitioner]
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._topics: dict[str, Topic] = {}
        self._groups: dict[str, ShareGroup] = {}
        self._group_configs: dict[str, dict[str, Any]] = {}
        self._listeners: list[Callable[[BrokerEvent], None]] = []
        self._outbox: list[BrokerEvent] = []
        self._dispatch_lock = threading.Lock()
        self._clock.on_advance(self._on_clock_advanced)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def config(self) -> BrokerConfig:
        return self._config

    # -- topics and produce ------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create ``name``; ``TOPIC_ALREADY_EXISTS`` if it exists."""
        _check_topic_name(name)
        if partitions < 1:
            raise BrokerError("INVALID_PARTITIONS", "a topic needs at least one partition")
        with self._locked():
            if name in self._topics:
                raise BrokerError("TOPIC_ALREADY_EXISTS", f"Topic '{name}' already exists.")
            self._topics[name] = Topic(name, partitions)
            self._topology_changed()

    def create_partitions(self, name: str, total: int) -> None:
        """Grow ``name`` to ``total`` partitions (Kafka cannot shrink a topic either)."""
        with self._locked():
            topic = self._topic(name)
            if total <= len(topic.partitions):
                raise BrokerError(
                    "INVALID_PARTITIONS",
                    f"Topic '{name}' has {len(topic.partitions)} partitions; {total} is not more.",
                )
            topic.add_partitions(total)
            self._topology_changed()

    def topics(self) -> dict[str, int]:
        """Topic name -> partition count."""
        with self._locked():
            return self._partition_counts()

    def produce(
        self,
        topic: str,
        value: bytes | str | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        partition: int | None = None,
        timestamp: int | None = None,
    ) -> tuple[int, int]:
        """Append one record; return ``(partition, offset)``.

        Without ``partition``: by ``murmur2(key)`` for keyed records, round-robin otherwise.
        ``timestamp`` is in ms since the epoch (default: the broker clock). Unknown topics are
        created with ``num.partitions`` while ``auto.create.topics.enable`` is on.
        """
        key_bytes, value_bytes = _to_bytes(key), _to_bytes(value)
        header_tuple = _normalize_headers(headers)
        with self._locked():
            log_topic = self._topics.get(topic)
            if log_topic is None:
                if not self._config["auto.create.topics.enable"]:
                    raise BrokerError(
                        "UNKNOWN_TOPIC_OR_PARTITION", f"Topic '{topic}' does not exist."
                    )
                _check_topic_name(topic)
                log_topic = self._topics[topic] = Topic(topic, self._config["num.partitions"])
                self._topology_changed()
            count = len(log_topic.partitions)
            if partition is None:
                if key_bytes is None:
                    partition = log_topic.next_unkeyed_partition % count
                    log_topic.next_unkeyed_partition += 1
                else:
                    partition = self._partition_for_key(key_bytes, count)
            elif not 0 <= partition < count:
                raise BrokerError(
                    "UNKNOWN_TOPIC_OR_PARTITION", f"Topic '{topic}' has no partition {partition}."
                )
            stamp = timestamp if timestamp is not None else self._clock.now_ms()
            offset = log_topic.partitions[partition].append(
                key_bytes, value_bytes, header_tuple, stamp
            )
            self._changed.notify_all()
        return partition, offset

    def log_end_offset(self, topic: str, partition: int) -> int:
        with self._locked():
            return self._partition_log(topic, partition).end_offset

    def offset_for_timestamp(self, topic: str, partition: int, timestamp_ms: int) -> int:
        """The first offset at or after ``timestamp_ms`` (the log end if none), like ListOffsets."""
        with self._locked():
            return self._partition_log(topic, partition).offset_for_timestamp(timestamp_ms)

    def read_records(self, topic: str, partition: int) -> Sequence[StoredRecord]:
        """Every record of one partition, as stored (not a share-group view)."""
        with self._locked():
            return self._partition_log(topic, partition).records()

    # -- membership --------------------------------------------------------------------

    def join_group(
        self,
        group_id: str,
        *,
        client_id: str,
        topics: Iterable[str],
        member_id: str | None = None,
    ) -> str:
        """Add a member subscribed to ``topics``; return its member id.

        A client that was removed rejoins with its old ``member_id`` (KIP-1082: the client
        keeps one member id for its lifetime); a new one gets a fresh UUID.
        """
        subscription = _check_subscription(topics)
        with self._locked():
            group = self._groups.get(group_id)
            if group is None:
                group = self._groups[group_id] = ShareGroup(group_id)
            if member_id is not None and member_id in group.members:
                raise BrokerError("INVALID_REQUEST", f"Member '{member_id}' is already in.")
            if len(group.members) >= self._config["group.share.max.size"]:
                raise BrokerError(
                    "GROUP_MAX_SIZE_REACHED",
                    f"Share group '{group_id}' already has {len(group.members)} members.",
                )
            member_id = member_id or str(uuid.uuid4())
            group.members[member_id] = Member(
                member_id, client_id, subscription, self._clock.now_ms()
            )
            group.invalidate_assignment()
            self._emit(BrokerEvent(EventKind.MEMBER_JOINED, group_id, member_id))
            self._changed.notify_all()
            return member_id

    def update_subscription(self, group_id: str, member_id: str, topics: Iterable[str]) -> None:
        subscription = _check_subscription(topics)
        with self._locked():
            group, member = self._member(group_id, member_id)
            member.topics = subscription
            group.invalidate_assignment()
            self._changed.notify_all()

    def leave_group(self, group_id: str, member_id: str) -> None:
        """Remove a member; the records it holds go back to Available (or Archived)."""
        with self._locked():
            group = self._groups.get(group_id)
            if group is not None and member_id in group.members:
                self._remove_member(group, member_id, self._clock.now_ms())

    def crash_member(self, group_id: str, member_id: str) -> None:
        """The member stops heartbeating, as when its process dies.

        It leaves the group once ``share.session.timeout.ms`` has passed on the broker clock;
        its records come back then, or earlier when their acquisition locks expire.
        """
        with self._locked():
            _, member = self._member(group_id, member_id)
            if member.heartbeat_stopped_at_ms is None:
                member.heartbeat_stopped_at_ms = self._clock.now_ms()

    def assignment(self, group_id: str, member_id: str) -> list[tuple[str, int]]:
        """The ``(topic, partition)``s the member may fetch from."""
        with self._locked():
            group, _ = self._member(group_id, member_id)
            return list(group.assignment(member_id, self._partition_counts()))

    # -- the share-group data plane ----------------------------------------------------

    def poll(
        self, group_id: str, member_id: str, max_records: int, timeout: float
    ) -> list[ReceivedRecord]:
        """Acquire up to ``max_records`` for the member, waiting up to ``timeout`` real seconds."""
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        give_up_at = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            while True:
                now_ms = self._clock.now_ms()
                self._apply_time(now_ms)
                group, member = self._member(group_id, member_id)
                records = self._acquire(group, member, max_records, now_ms)
                remaining = give_up_at - time.monotonic()
                if records or remaining <= 0:
                    break
                self._changed.wait(self._wait_seconds(remaining))
        self._dispatch_events()
        return records

    def acknowledge(
        self,
        group_id: str,
        member_id: str,
        acknowledgements: Iterable[tuple[str, int, int, AcknowledgeType]],
    ) -> list[AcknowledgementFailure]:
        """Apply ``(topic, partition, offset, type)`` acknowledgements in order; return refusals."""
        failures: list[AcknowledgementFailure] = []
        with self._locked():
            now_ms = self._clock.now_ms()
            group = self._groups.get(group_id)
            limits = self._limits(group_id)
            for topic, partition, offset, ack_type in acknowledgements:
                share_partition = group.share_partitions.get((topic, partition)) if group else None
                error: str | None
                if share_partition is None:
                    known = self._partition_exists(topic, partition)
                    error = "INVALID_RECORD_STATE" if known else "UNKNOWN_TOPIC_OR_PARTITION"
                else:
                    error = share_partition.acknowledge(member_id, offset, ack_type, now_ms, limits)
                if error is not None:
                    failures.append(AcknowledgementFailure(topic, partition, offset, error))
            self._changed.notify_all()
        return failures

    # -- group configs -----------------------------------------------------------------

    def alter_group_config(self, group_id: str, changes: Mapping[str, Any | None]) -> None:
        """Set group configs by Kafka name; ``None`` deletes one (back to the broker default).

        All-or-nothing: one invalid value (``INVALID_CONFIG``) changes nothing.
        """
        parsed = {
            key: None if value is None else self._config.validate_group_config(key, value)
            for key, value in changes.items()
        }
        with self._locked():
            overrides = self._group_configs.setdefault(group_id, {})
            for key, value in parsed.items():
                if value is None:
                    overrides.pop(key, None)
                else:
                    overrides[key] = value
            self._changed.notify_all()

    def group_config(self, group_id: str) -> dict[str, Any]:
        """Every share-group config's effective value for ``group_id``."""
        with self._locked():
            values = {k: self._group_value(group_id, k) for k in self._config.group_config_keys()}
        values["share.auto.offset.reset"] = str(values["share.auto.offset.reset"])
        return values

    def record_lock_duration_ms(self, group_id: str) -> int:
        with self._locked():
            return self._group_value(group_id, "share.record.lock.duration.ms")

    # -- administration (what Kafka's Admin client offers for share groups) -----------

    def list_share_groups(self) -> list[str]:
        with self._locked():
            return sorted(self._groups)

    def describe_share_group(self, group_id: str) -> ShareGroupDescription:
        with self._locked():
            group = self._group(group_id)
            counts = self._partition_counts()
            members = tuple(
                MemberDescription(
                    m.member_id,
                    m.client_id,
                    m.topics,
                    tuple(group.assignment(m.member_id, counts)),
                )
                for m in group.members.values()
            )
            return ShareGroupDescription(group_id, group.state, members)

    def share_group_offsets(self, group_id: str) -> dict[tuple[str, int], SharePartitionOffsets]:
        """SPSO and lag of every initialised share partition of the group."""
        with self._locked():
            group = self._group(group_id)
            return {
                key: SharePartitionOffsets(
                    sp.topic,
                    sp.partition,
                    sp.start_offset,
                    sp.lag(self._partition_log(sp.topic, sp.partition).end_offset),
                )
                for key, sp in sorted(group.share_partitions.items())
            }

    def alter_share_group_offsets(
        self, group_id: str, offsets: Mapping[tuple[str, int], int]
    ) -> None:
        """Move SPSOs (reset to an offset); the group must be empty and is created if new."""
        with self._locked():
            if group_id not in self._groups:
                self._groups[group_id] = ShareGroup(group_id)
            group = self._empty_group(group_id)
            for (topic, partition), offset in offsets.items():
                log = self._partition_log(topic, partition)
                offset = min(max(offset, log.start_offset), log.end_offset)
                share_partition = group.share_partitions.get((topic, partition))
                if share_partition is None:
                    group.share_partitions[(topic, partition)] = SharePartition(
                        group_id, topic, partition, offset, self._emit
                    )
                else:
                    share_partition.reset(offset)

    def delete_share_group_offsets(self, group_id: str, topics: Iterable[str]) -> None:
        """Forget share-partition state of ``topics``; the next fetch starts per auto reset."""
        drop = set(topics)
        with self._locked():
            group = self._empty_group(group_id)
            for key in [k for k in group.share_partitions if k[0] in drop]:
                del group.share_partitions[key]

    def delete_share_group(self, group_id: str) -> None:
        """Delete an empty group with its state and configs (``NON_EMPTY_GROUP`` otherwise)."""
        with self._locked():
            self._empty_group(group_id)
            del self._groups[group_id]
            self._group_configs.pop(group_id, None)

    # -- inspection for tests ----------------------------------------------------------

    def share_partition(
        self, group_id: str, topic: str, partition: int
    ) -> SharePartitionView | None:
        """SPSO, SPEO, counts and per-offset state; ``None`` before the first fetch."""
        with self._locked():
            share_partition = self._existing_share_partition(group_id, topic, partition)
            return share_partition.view() if share_partition else None

    def record_state(
        self, group_id: str, topic: str, partition: int, offset: int
    ) -> RecordView | None:
        """State, delivery count and owner of one offset; ``None`` if never acquired."""
        with self._locked():
            share_partition = self._existing_share_partition(group_id, topic, partition)
            return share_partition.record_view(offset) if share_partition else None

    def archived_records(
        self, group_id: str, topic: str | None = None, partition: int | None = None
    ) -> list[ArchivedRecord]:
        """Records the group archived (rejected or out of deliveries), oldest first."""
        with self._locked():
            group = self._groups.get(group_id)
            if group is None:
                return []
            found = [
                archived
                for (t, p), sp in group.share_partitions.items()
                if (topic is None or t == topic) and (partition is None or p == partition)
                for archived in sp.archived()
            ]
            return sorted(found, key=lambda a: (a.archived_at_ms, a.topic, a.partition, a.offset))

    def in_flight_count(self, group_id: str, topic: str, partition: int) -> int:
        """SPEO - SPSO: what ``share.partition.max.record.locks`` limits."""
        with self._locked():
            share_partition = self._existing_share_partition(group_id, topic, partition)
            return share_partition.in_flight_count() if share_partition else 0

    def acquired_count(self, group_id: str, member_id: str | None = None) -> int:
        """Records currently acquired in the group (by ``member_id`` if given)."""
        with self._locked():
            group = self._groups.get(group_id)
            if group is None:
                return 0
            return sum(sp.acquired_count(member_id) for sp in group.share_partitions.values())

    def is_settled(self, group_id: str, topic_names: Sequence[str]) -> bool:
        """Every record of ``topic_names`` is acknowledged or archived by the group: each
        partition has been fetched, its lag is 0 and nothing is acquired."""
        topics = self.topics()
        if any(name not in topics for name in topic_names):
            return False
        try:
            offsets = self.share_group_offsets(group_id)
        except Exception:
            return False  # the group has not fetched yet
        partitions = {(name, p) for name in topic_names for p in range(topics[name])}
        return (
            partitions <= set(offsets)
            and all(offsets[key].lag == 0 for key in partitions)
            and self.acquired_count(group_id) == 0
        )

    def acquired_records(self, group_id: str, member_id: str) -> list[tuple[str, int, int]]:
        """``(topic, partition, offset)`` of every record ``member_id`` holds."""
        with self._locked():
            group = self._groups.get(group_id)
            if group is None:
                return []
            return [
                (topic, partition, offset)
                for (topic, partition), sp in sorted(group.share_partitions.items())
                for offset in sp.acquired_offsets(member_id)
            ]

    # -- events ------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[BrokerEvent], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[BrokerEvent], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    # -- internals (call with the lock held) -------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self._apply_time(self._clock.now_ms())
            yield
        self._dispatch_events()

    def _apply_time(self, now_ms: int) -> None:
        """Expire acquisition locks and drop members whose session timed out."""
        changed = False
        for group in self._groups.values():
            for member in list(group.members.values()):
                stopped = member.heartbeat_stopped_at_ms
                if stopped is None:
                    continue
                timeout = self._group_value(group.group_id, "share.session.timeout.ms")
                if now_ms - stopped >= timeout:
                    self._remove_member(group, member.member_id, now_ms)
                    changed = True
            if group.share_partitions:
                limits = self._limits(group.group_id)
                for share_partition in group.share_partitions.values():
                    if share_partition.expire_locks(now_ms, limits):
                        changed = True
        if changed:
            self._changed.notify_all()

    def _wait_seconds(self, remaining: float) -> float:
        """How long a poll may sleep: until its timeout, or the next lock/session deadline."""
        deadlines = [
            deadline
            for group in self._groups.values()
            for deadline in self._deadlines(group)
            if deadline is not None
        ]
        if deadlines:
            until_next = self._clock.real_seconds_until(min(deadlines))
            if until_next is not None:
                remaining = min(remaining, max(until_next, 0.001))
        return remaining

    def _deadlines(self, group: ShareGroup) -> Iterator[int | None]:
        for share_partition in group.share_partitions.values():
            yield share_partition.next_lock_deadline_ms()
        for member in group.members.values():
            if member.heartbeat_stopped_at_ms is not None:
                timeout = self._group_value(group.group_id, "share.session.timeout.ms")
                yield member.heartbeat_stopped_at_ms + timeout

    def _acquire(
        self, group: ShareGroup, member: Member, max_records: int, now_ms: int
    ) -> list[ReceivedRecord]:
        assigned = group.assignment(member.member_id, self._partition_counts())
        if not assigned:
            return []
        # Start at a different partition each poll, as Kafka rotates share-fetch partitions.
        first = member.next_partition_index % len(assigned)
        member.next_partition_index = first + 1
        limits = self._limits(group.group_id)
        records: list[ReceivedRecord] = []
        for index in range(len(assigned)):
            topic, partition = assigned[(first + index) % len(assigned)]
            log = self._partition_log(topic, partition)
            share_partition = self._share_partition_for_fetch(group, topic, partition, log, now_ms)
            acquired = share_partition.acquire(
                member.member_id, max_records - len(records), log.end_offset, now_ms, limits
            )
            for offset, delivery_count in acquired:
                stored = log.read(offset)
                records.append(
                    ReceivedRecord(
                        topic,
                        partition,
                        offset,
                        stored.key,
                        stored.value,
                        stored.headers,
                        stored.timestamp_ms,
                        delivery_count,
                    )
                )
            if len(records) >= max_records:
                break
        return records

    def _share_partition_for_fetch(
        self, group: ShareGroup, topic: str, partition: int, log: PartitionLog, now_ms: int
    ) -> SharePartition:
        """The share partition, created at the first fetch where auto offset reset says."""
        share_partition = group.share_partitions.get((topic, partition))
        if share_partition is None:
            reset: AutoOffsetReset = self._group_value(group.group_id, "share.auto.offset.reset")
            if reset.kind == "earliest":
                start = log.start_offset
            elif reset.kind == "latest":
                start = log.end_offset
            else:
                start = log.offset_for_timestamp(now_ms - (reset.duration_ms or 0))
            share_partition = SharePartition(group.group_id, topic, partition, start, self._emit)
            group.share_partitions[(topic, partition)] = share_partition
        return share_partition

    def _remove_member(self, group: ShareGroup, member_id: str, now_ms: int) -> None:
        del group.members[member_id]
        group.invalidate_assignment()
        limits = self._limits(group.group_id)
        for share_partition in group.share_partitions.values():
            share_partition.release_member(member_id, now_ms, limits)
        self._emit(BrokerEvent(EventKind.MEMBER_LEFT, group.group_id, member_id))
        self._changed.notify_all()

    def _limits(self, group_id: str) -> ShareLimits:
        return ShareLimits(
            lock_duration_ms=self._group_value(group_id, "share.record.lock.duration.ms"),
            delivery_count_limit=self._group_value(group_id, "share.delivery.count.limit"),
            max_record_locks=self._group_value(group_id, "share.partition.max.record.locks"),
            renew_enabled=self._group_value(group_id, "share.renew.acknowledge.enable"),
        )

    def _group_value(self, group_id: str, key: str) -> Any:
        overrides = self._group_configs.get(group_id)
        if overrides and key in overrides:
            return overrides[key]
        return self._config.group_default(key)

    def _topology_changed(self) -> None:
        for group in self._groups.values():
            group.invalidate_assignment()
        self._changed.notify_all()

    def _partition_counts(self) -> dict[str, int]:
        return {name: len(topic.partitions) for name, topic in self._topics.items()}

    def _topic(self, name: str) -> Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise BrokerError("UNKNOWN_TOPIC_OR_PARTITION", f"Topic '{name}' does not exist.")
        return topic

    def _partition_exists(self, topic: str, partition: int) -> bool:
        return topic in self._topics and 0 <= partition < len(self._topics[topic].partitions)

    def _partition_log(self, topic: str, partition: int) -> PartitionLog:
        partitions = self._topic(topic).partitions
        if not 0 <= partition < len(partitions):
            raise BrokerError(
                "UNKNOWN_TOPIC_OR_PARTITION", f"Topic '{topic}' has no partition {partition}."
            )
        return partitions[partition]

    def _group(self, group_id: str) -> ShareGroup:
        group = self._groups.get(group_id)
        if group is None:
            raise BrokerError("GROUP_ID_NOT_FOUND", f"Share group '{group_id}' does not exist.")
        return group

    def _empty_group(self, group_id: str) -> ShareGroup:
        group = self._group(group_id)
        if group.members:
            raise BrokerError("NON_EMPTY_GROUP", f"Share group '{group_id}' has active members.")
        return group

    def _member(self, group_id: str, member_id: str) -> tuple[ShareGroup, Member]:
        group = self._groups.get(group_id)
        member = group.members.get(member_id) if group else None
        if group is None or member is None:
            raise BrokerError(
                "UNKNOWN_MEMBER_ID", f"Member '{member_id}' is not in share group '{group_id}'."
            )
        return group, member

    def _existing_share_partition(
        self, group_id: str, topic: str, partition: int
    ) -> SharePartition | None:
        group = self._groups.get(group_id)
        return group.share_partitions.get((topic, partition)) if group else None

    def _emit(self, event: BrokerEvent) -> None:
        if self._listeners:
            self._outbox.append(event)

    def _dispatch_events(self) -> None:
        if not self._outbox:
            return
        with self._dispatch_lock:
            with self._lock:
                events, self._outbox = self._outbox, []
                listeners = list(self._listeners)
            for event in events:
                for listener in listeners:
                    try:
                        listener(event)
                    except Exception:
                        logger.exception("Memory broker listener %r failed on %r", listener, event)

    def _on_clock_advanced(self) -> None:
        with self._changed:
            self._apply_time(self._clock.now_ms())
            self._changed.notify_all()
        self._dispatch_events()


def _check_topic_name(name: str) -> None:
    if not is_topic_name(name):
        raise BrokerError(
            "INVALID_TOPIC_EXCEPTION", f"{name!r} is not a legal topic name ({TOPIC_NAME_RULE})."
        )


def _check_subscription(topics: Iterable[str]) -> tuple[str, ...]:
    if isinstance(topics, str):
        raise TypeError("topics must be a collection of topic names, not one string")
    subscription = tuple(dict.fromkeys(topics))
    if not subscription:
        raise ValueError("a share-group member must subscribe to at least one topic")
    return subscription


def _to_bytes(data: bytes | str | None) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"expected bytes, str or None, not {type(data).__name__}")


def _normalize_headers(headers: Headers | None) -> tuple[tuple[str, bytes | None], ...]:
    if not headers:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), _to_bytes(value)) for name, value in pairs)


_default_broker: MemoryBroker | None = None
_default_broker_lock = threading.Lock()


def default_broker() -> MemoryBroker:
    """The process-wide broker the ``memory`` adapter uses unless given another one."""
    global _default_broker
    with _default_broker_lock:
        if _default_broker is None:
            _default_broker = MemoryBroker()
        return _default_broker


def reset_default_broker(broker: MemoryBroker | None = None) -> MemoryBroker:
    """Replace the process-wide broker (with a fresh one by default); return the new one."""
    global _default_broker
    with _default_broker_lock:
        _default_broker = broker or MemoryBroker()
        return _default_broker
