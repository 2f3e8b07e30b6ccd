"""The ``native`` share consumer: KIP-932 spoken directly, with RENEW and strict record limits.

Threads: the owner thread (the listener) polls, commits and closes, and does all fetch and
acknowledgement I/O; ``acknowledge`` may be called from any thread (it only queues); the
membership has its own heartbeat thread and connection.

A poll: RENEW acknowledgements go out first (ShareAcknowledge), then each partition leader
is fetched (ShareFetch, record-limit acquire mode, so the broker acquires at most what is still
wanted), with the other pending acknowledgements riding along; whatever could not ride along
is sent by ShareAcknowledge before returning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ...exceptions import ConfigurationError
from ...instrumentation.bus import events
from ...kafka.backoff import Backoff, FailureEpisode
from ...kafka.cluster import Cluster
from ...kafka.config import ConnectionConfig
from ...kafka.connection import BrokerConnection, PendingResponse
from ...kafka.errors import (
    LEADER_MOVED_ERROR_CODES,
    SHARE_SESSION_ERROR_CODES,
    BrokerError,
    ErrorCode,
    KafkaError,
    error_for_code,
    error_name,
)
from ...kafka.protocol.messages.share_consumer import SHARE_ACKNOWLEDGE, SHARE_FETCH
from ..base import (
    AcknowledgementFailure,
    AcknowledgeType,
    BufferedAcknowledgements,
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
)
from ..memory.errors import IllegalStateError
from .acknowledgements import (
    GAP,
    RENEW,
    WIRE_TYPES,
    AcknowledgementBuffer,
    Offsets,
    TopicIdPartition,
    renews,
)
from .delivery import (
    CORRUPT_BATCH_ACTIONS,
    DEFAULT_MAX_ACQUIRED,
    RELEASE,
    CorruptBatch,
    DecodedBatches,
    InvalidAcquiredRecords,
    deliver_partition,
)
from .membership import Membership
from .sessions import ShareSession
from .topics import TopicDirectory

#: ``acknowledge_all`` before its first record: no handle is this.
_NO_HANDLE = object()
logger = logging.getLogger("django_sharegroups.clients.native")


_ACCEPT = AcknowledgeType.ACCEPT
_ACCEPT_WIRE = WIRE_TYPES[_ACCEPT]

DEFAULT_MAX_BYTES = 52_428_800  # librdkafka's and Kafka's fetch.max.bytes
#: Seconds ``close`` waits for the heartbeat thread before leaving the group without it.
CLOSE_TIMEOUT = 5.0


def _wire_type(ack_type: AcknowledgeType) -> int:
    try:
        return WIRE_TYPES[ack_type]
    except KeyError:
        raise TypeError(f"ack_type must be an AcknowledgeType, not {ack_type!r}") from None


class NativeShareConsumer(BufferedAcknowledgements, ShareConsumerClient):
    """One share-group member speaking ShareGroupHeartbeat, ShareFetch v2, ShareAcknowledge v2.

    ``config`` takes the librdkafka-style keys the other adapters get (``bootstrap.servers``,
    ``security.protocol``, ``sasl.*``, ``ssl.*``, ``client.id``, ``client.rack``,
    ``fetch.max.bytes``); keys it does not know are ignored. Its own key
    ``native.corrupt.batch.action`` (``release``, the default, or ``reject``) says what happens
    to acquired records of a batch that cannot be decoded.
    """

    name = "native"
    capabilities = frozenset(
        {Capability.RENEW, Capability.STRICT_RECORD_LIMIT, Capability.HOLD_ACROSS_POLLS}
    )
    #: One lock and a dict update per partition instead of a call, a lock and a lookup per
    #: record: a poll of one-record jobs acknowledged together was 12 % faster end to end.
    bulk_acknowledge = True

    def __init__(self, group_id: str, config: Mapping[str, Any]) -> None:
        self.group_id = group_id
        connection = ConnectionConfig.from_dict(config)
        self.corrupt_action = str(config.get("native.corrupt.batch.action", "release")).lower()
        if self.corrupt_action not in CORRUPT_BATCH_ACTIONS:
            raise ConfigurationError(
                "native.corrupt.batch.action must be one of "
                f"{', '.join(CORRUPT_BATCH_ACTIONS)}, not {self.corrupt_action!r}"
            )
        self.max_bytes = int(config.get("fetch.max.bytes", DEFAULT_MAX_BYTES))
        #: A batch that would decompress to more is corrupt (a decompression bomb).
        self.max_decompressed = int(
            config.get("native.max.decompressed.batch.bytes", self.max_bytes)
        )
        self._cluster = Cluster(connection)
        self._membership = Membership(
            Cluster(connection),
            group_id,
            rack_id=config.get("client.rack") or None,
            name=f"sharegroups-heartbeat:{connection.client_id}",
        )
        self._topics = TopicDirectory(self._cluster)
        self._sessions: dict[int, ShareSession] = {}
        self._acknowledgements = AcknowledgementBuffer()
        self._decoded = DecodedBatches()
        self._state_lock = threading.Lock()
        self._failures: list[AcknowledgementFailure] = []
        self._corrupt: list[CorruptBatch] = []
        self._lock_timeout_ms: int | None = None
        self._subscription: tuple[str, ...] = ()
        self._rotation = 0
        self._closed = False
        #: After a failed request the next poll round waits (reconnect.backoff.ms doubling
        #: up to reconnect.backoff.max.ms, jittered) instead of hammering a broker that is down.
        self._backoff = Backoff(connection.reconnect_backoff, connection.reconnect_backoff_max)
        #: Failed requests so far (never reset): a poll round that failed one waits the backoff.
        self._failed_requests = 0
        self._episodes: dict[str, FailureEpisode] = {}
        #: Pipelined requests (``prefetch``, acknowledgements sent while handing over
        #: prefetched records), oldest first; their answers are read before any other request.
        self._in_flight: list[_InFlight] = []
        #: Records a prefetch acquired, not handed to a poll yet, and when they were asked for.
        self._ready: list[ReceivedRecord] = []
        self._ready_since: float | None = None
        self._last_acquired_at: float | None = None
        #: ShareFetch in batch-optimized mode (see ``acquire_whole_batches``).
        self._whole_batches = False

    # -- the adapter interface --------------------------------------------------------------

    @property
    def member_id(self) -> str:
        return self._membership.member_id

    @property
    def membership(self) -> Membership:
        """The group member behind this client (heartbeats, assignment, epoch): for operators
        and tests that need to see or provoke a rejoin."""
        return self._membership

    def subscribe(self, topics: Sequence[str]) -> None:
        self._check_open()
        self._subscription = tuple(topics)
        self._membership.subscribe(self._subscription)

    def poll(self, max_records: int, timeout: float) -> list[ReceivedRecord]:
        self._check_open()
        if not self._subscription:
            raise IllegalStateError("Consumer is not subscribed to any topics.")
        if self._membership.error is not None:
            raise self._membership.error
        deadline = time.monotonic() + max(0.0, timeout)
        self._complete_in_flight()
        self._last_acquired_at = None
        if self._ready:
            records = self._take_ready(max(1, max_records))
            if records:
                # Acknowledgements queued meanwhile ride on the prefetch that follows (or go
                # by themselves when it cannot be made: prefetch(0), any poll, any commit).
                return records
        version = self._membership.assignment_version
        wanted = self._wanted_by_leader()
        while not wanted:
            self._send_acknowledgements()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._membership.wait_for_assignment_change(
                version, remaining
            ):
                self._forget_unwanted()
                return []
            version = self._membership.assignment_version
            wanted = self._wanted_by_leader()
        while True:
            if self._acknowledgements.has_renewals():
                self._send_acknowledgements()
            failures = self._failed_requests
            records = self._fetch_round(wanted, max(1, max_records), deadline)
            if self._acknowledgements:
                self._send_acknowledgements()
            if records or self._failed_requests == failures:
                return records
            # A request failed: wait out the backoff within this poll, then try again.
            pause = min(self._backoff.remaining(), deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() >= deadline:
                return []
            wanted = self._wanted_by_leader() or wanted

    def acknowledge(self, record: ReceivedRecord, ack_type: AcknowledgeType) -> None:
        """Queue an acknowledgement (any thread); it is sent by the owner thread's next call."""
        if self._closed:
            self._check_open()
        # Called once per record: ACCEPT, the usual type, without a call or a lookup.
        wire_type = _ACCEPT_WIRE if ack_type is _ACCEPT else _wire_type(ack_type)
        partition = record.handle
        if partition.__class__ is not TopicIdPartition:
            partition = self._partition_of(record)
        self._acknowledgements.add(partition, record.offset, wire_type)

    def acknowledge_all(self, records: Sequence[ReceivedRecord], ack_type: AcknowledgeType) -> None:
        """``acknowledge`` for many records: grouped by partition, each partition's offsets
        added to the buffer under one lock instead of one lock and call per record."""
        if len(records) < 2:  # a per_message job: no grouping to do
            for record in records:
                self.acknowledge(record, ack_type)
            return
        if self._closed:
            self._check_open()
        wire_type = _ACCEPT_WIRE if ack_type is _ACCEPT else _wire_type(ack_type)
        by_partition: dict[TopicIdPartition, list[int]] = {}
        handle: Any = _NO_HANDLE
        offsets: list[int] = []
        for record in records:
            # A fetch hands each partition's records one shared handle, and jobs keep them
            # in runs: look the partition up when the handle changes, not per record (its
            # hash is a Python call).
            if record.handle is not handle:
                handle = partition = record.handle
                if partition.__class__ is not TopicIdPartition:
                    partition = self._partition_of(record)
                found = by_partition.get(partition)
                if found is None:
                    found = by_partition[partition] = []
                offsets = found
            offsets.append(record.offset)
        for partition, offsets in by_partition.items():
            self._acknowledgements.add_many(partition, offsets, wire_type)

    def _partition_of(self, record: ReceivedRecord) -> TopicIdPartition:
        """The partition of a record whose handle is not one (built by hand, e.g. in tests)."""
        partition = self._topics.by_name(record.topic, record.partition)
        if partition is None:
            raise ValueError(f"{record.topic}[{record.partition}] was never fetched here")
        return partition

    def prefetch(self, max_records: int) -> None:
        """Ask for up to ``max_records`` more records now, without waiting for them: a
        ShareFetch (with the acknowledgements pending so far riding along) goes out and its
        answer is read by the next poll, which hands the records over. The broker works on it
        while the caller processes what it has. One prefetch at a time, from one leader, and
        only on an open share session. When no prefetch can be made (``max_records`` 0, or
        any of the above), pending acknowledgements are sent without waiting instead."""
        self._check_open()
        if not self._prefetch(max_records) and self._acknowledgements:
            self._send_acknowledgements(pipelined=True)

    def take_prefetched(self) -> list[ReceivedRecord]:
        self._check_open()
        self._complete_in_flight()
        return self._take_ready(len(self._ready)) if self._ready else []

    def _prefetch(self, max_records: int) -> bool:
        if max_records <= 0 or not self._subscription:
            return False
        if self._membership.error is not None or self._backoff.failures:
            return False
        if self._ready or any(item.fetch for item in self._in_flight):
            return False
        if self._acknowledgements.has_renewals():
            return False  # RENEW travels in ShareAcknowledge only
        wanted = self._wanted_by_leader()
        if len(wanted) != 1:
            return False
        ((node_id, partitions),) = wanted.items()
        session = self._session(node_id)
        if not session.opened:
            return False
        if self._acknowledgements.partitions() - partitions:
            return False  # some acknowledgements cannot ride on this ShareFetch
        acknowledgements = self._take_piggyback(session, partitions)
        request = session.fetch_request(
            partitions,
            acknowledgements,
            max_records=max_records,
            max_wait_ms=0,
            max_bytes=self.max_bytes,
            whole_batches=self._whole_batches,
        )
        max_acquired = self._acquired_limit(max_records)
        self._begin(
            _InFlight(session, partitions, acknowledgements, fetch=True, max_acquired=max_acquired),
            SHARE_FETCH,
            request,
        )
        return True

    def acquire_whole_batches(self, allowed: bool) -> None:
        """While ``allowed``, ShareFetch asks in batch-optimized mode: the broker hands over
        whole producer batches, possibly more records than asked for, and spends less per
        record than when it splits batches at the record limit."""
        self._whole_batches = allowed

    def _acquired_limit(self, max_records: int) -> int:
        """Records one partition of a ShareFetch answer may carry before it is refused."""
        return DEFAULT_MAX_ACQUIRED if self._whole_batches else max_records

    def last_poll_acquired_at(self) -> float | None:
        """When (``time.time()``) the records of the last poll were asked for, if that was
        before the poll (a prefetch); ``None`` when the poll itself acquired them."""
        return self._last_acquired_at

    def take_corrupt_batches(self) -> list[CorruptBatch]:
        """Batches that could not be decoded since the last call (their acquired records were
        RELEASEd or REJECTed as ``native.corrupt.batch.action`` says)."""
        with self._state_lock:
            corrupt, self._corrupt = self._corrupt, []
        return corrupt

    def acquisition_lock_timeout_ms(self) -> int | None:
        return self._lock_timeout_ms

    def close(self) -> None:
        """Send pending acknowledgements, close the share sessions, leave the group."""
        if self._closed:
            return
        try:
            self._complete_in_flight()
            self._release_ready()
            self._send_acknowledgements()
            for session in self._sessions.values():
                if session.opened:
                    self._close_session(session)
        except KafkaError as error:
            logger.warning("%s: closing share sessions failed: %s", self.group_id, error)
        finally:
            self._closed = True
            try:
                self._membership.close(timeout=CLOSE_TIMEOUT)
            finally:
                self._cluster.close()
                self._membership.cluster.close()

    # -- partitions and leaders -------------------------------------------------------------

    def _wanted_by_leader(self) -> dict[int, set[TopicIdPartition]]:
        """The assigned partitions, grouped by the node that leads each."""
        assignment = self._membership.assignment
        if not assignment:
            return {}
        if self._topics.stale or any(
            self._topics.partition(topic_id, index) is None for topic_id, index in assignment
        ):
            self._refresh_topics()
        by_leader: dict[int, set[TopicIdPartition]] = {}
        missing = False
        for topic_id, index in assignment:
            partition = self._topics.partition(topic_id, index)
            leader = None if partition is None else self._topics.leader(partition)
            if partition is None or leader is None:
                missing = True
                continue
            by_leader.setdefault(leader, set()).add(partition)
        if missing:
            self._topics.stale = True
        return by_leader

    def _refresh_topics(self) -> None:
        try:
            self._topics.refresh(self._subscription)
        except KafkaError as error:
            self._request_error("metadata refresh", error)
        else:
            self._request_ok("metadata refresh")

    def _session(self, node_id: int) -> ShareSession:
        session = self._sessions.get(node_id)
        if session is None:
            session = ShareSession(node_id, self.group_id, self.member_id)
            self._sessions[node_id] = session
        return session

    def _forget_unwanted(self) -> None:
        """Drop revoked partitions from sessions when there is nothing to fetch."""
        for session in self._sessions.values():
            if session.opened and session.partitions:
                self._fetch(session, set(), 1, 0)

    # -- fetching ---------------------------------------------------------------------------

    def _fetch_round(
        self, wanted: dict[int, set[TopicIdPartition]], max_records: int, deadline: float
    ) -> list[ReceivedRecord]:
        """Fetch from every leader, never acquiring more than ``max_records`` in all; one
        leader (in turn) may wait for records, the others are asked without waiting."""
        nodes = sorted(set(wanted) | {n for n, s in self._sessions.items() if s.partitions})
        self._rotation = (self._rotation + 1) % len(nodes)
        nodes = nodes[self._rotation :] + nodes[: self._rotation]
        waiting = next((node for node in nodes if node in wanted), None)
        order = [node for node in nodes if node != waiting] + [waiting]
        records: list[ReceivedRecord] = []
        for node in order:
            if node is None:
                continue
            remaining = max_records - len(records)
            if remaining <= 0:
                break
            wait = 0.0
            if node == waiting and not records:
                wait = max(0.0, deadline - time.monotonic())
            records += self._fetch(self._session(node), wanted.get(node, set()), remaining, wait)
        return records

    def _fetch(
        self,
        session: ShareSession,
        wanted: set[TopicIdPartition],
        max_records: int,
        wait: float,
    ) -> list[ReceivedRecord]:
        acknowledgements = self._take_piggyback(session, wanted)
        request = session.fetch_request(
            wanted,
            acknowledgements,
            max_records=max_records,
            max_wait_ms=int(wait * 1000),
            max_bytes=self.max_bytes,
            whole_batches=self._whole_batches,
        )
        try:
            response = self._cluster.request(
                SHARE_FETCH, request, node_id=session.node_id, idempotent=False
            )
        except KafkaError as error:
            self._fetch_error(session, acknowledgements, error)
            return []
        max_acquired = self._acquired_limit(max_records)
        return self._fetched(session, wanted, acknowledgements, response, max_acquired)

    def _fetch_error(
        self,
        session: ShareSession,
        acknowledgements: dict[TopicIdPartition, Offsets],
        error: KafkaError,
    ) -> None:
        self._request_error(f"ShareFetch to node {session.node_id}", error)
        session.reset()  # the broker drops a session whose connection closed
        self._topics.stale = True  # and the leader may have moved
        self._acknowledgements.put_back(acknowledgements)

    def _fetched(
        self,
        session: ShareSession,
        wanted: set[TopicIdPartition],
        acknowledgements: dict[TopicIdPartition, Offsets],
        response,
        max_acquired: int,
        *,
        advanced: bool = False,
    ) -> list[ReceivedRecord]:
        """The records of a ShareFetch answer, refusing a partition that acquired more than
        ``max_acquired`` (fixed when the request was sent: whole batches allowed or not).
        ``advanced``: the session's epoch and partitions were moved on when the request was
        sent, as for pipelined requests."""
        self._request_ok(f"ShareFetch to node {session.node_id}")
        if response.error_code:
            if advanced:
                session.reset()  # the epoch sent after this one is wrong now
            self._request_failed(session, acknowledgements, response, "ShareFetch")
            return []
        if not advanced:
            session.partitions = set(wanted)
            session.advance()
        self._note_lock_timeout(response.acquisition_lock_timeout_ms)
        records: list[ReceivedRecord] = []
        for topic in response.responses:
            for data in topic.partitions:
                partition = self._topics.partition(topic.topic_id, data.partition_index)
                if partition is None:
                    continue
                if data.acknowledge_error_code:
                    self._failed(
                        partition,
                        acknowledgements.get(partition, {}),
                        error_name(data.acknowledge_error_code),
                    )
                if data.error_code:
                    self._partition_error(session, partition, data, "ShareFetch")
                    continue
                if data.acquired_records:
                    records += self._deliver(partition, data, max_acquired)
        return records

    def _deliver(
        self, partition: TopicIdPartition, data, max_acquired: int
    ) -> list[ReceivedRecord]:
        try:
            delivery = deliver_partition(
                partition,
                data.records or b"",
                [(a.first_offset, a.last_offset, a.delivery_count) for a in data.acquired_records],
                corrupt_action=self.corrupt_action,
                cache=self._decoded,
                max_acquired=max_acquired,
                max_decompressed=self.max_decompressed,
            )
        except InvalidAcquiredRecords as error:
            # Nothing of this answer can be trusted: deliver nothing and settle nothing; the
            # broker hands the records out again when their acquisition locks run out.
            logger.error(
                "%s: ShareFetch answer for %s[%d] ignored: %s",
                self.group_id,
                partition.topic,
                partition.partition,
                error,
            )
            return []
        for offset, wire_type in delivery.acknowledgements.items():
            self._acknowledgements.add(partition, offset, wire_type)
        for corrupt in delivery.corrupt:
            logger.error(
                "%s: %s[%d] batch at offset %d cannot be decoded (%s); %s %d acquired record(s)",
                self.group_id,
                corrupt.topic,
                corrupt.partition,
                corrupt.base_offset,
                corrupt.error,
                corrupt.action.upper(),
                len(corrupt.offsets),
            )
            events.publish(
                "batch.corrupt",
                share_group=self.group_id,
                topic=corrupt.topic,
                partition=corrupt.partition,
                base_offset=corrupt.base_offset,
                last_offset=corrupt.last_offset,
                error=corrupt.error,
                action=corrupt.action.upper(),
                offsets=corrupt.offsets,
            )
        if delivery.corrupt:
            with self._state_lock:
                self._corrupt += delivery.corrupt
        return delivery.records

    def _take_piggyback(
        self, session: ShareSession, wanted: set[TopicIdPartition]
    ) -> dict[TopicIdPartition, Offsets]:
        """Acknowledgements that may ride on this ShareFetch (never RENEW, never before the
        session is open, only for partitions the fetch names)."""
        if not session.opened:
            return {}
        taken = self._acknowledgements.take(wanted)
        renewals = {}
        for partition, offsets in taken.items():
            renew = {o: t for o, t in offsets.items() if t == RENEW}
            if renew:
                renewals[partition] = renew
                for offset in renew:
                    del offsets[offset]
        if renewals:
            self._acknowledgements.put_back(renewals)
        return {partition: offsets for partition, offsets in taken.items() if offsets}

    # -- acknowledging ----------------------------------------------------------------------

    def _send_acknowledgements(self, *, pipelined: bool = False) -> None:
        """Send every pending acknowledgement by ShareAcknowledge, grouped by leader
        (``pipelined``: without waiting for the answers; the next request reads them)."""
        if not pipelined:
            self._complete_in_flight()
        pending = self._acknowledgements.take()
        if not pending:
            return
        by_leader: dict[int, dict[TopicIdPartition, Offsets]] = {}
        for partition, offsets in pending.items():
            leader = self._topics.leader(partition)
            if leader is None:
                self._refresh_topics()
                leader = self._topics.leader(partition)
            if leader is None:
                self._failed(partition, offsets, "LEADER_NOT_AVAILABLE")
                continue
            by_leader.setdefault(leader, {})[partition] = offsets
        for node_id, acknowledgements in by_leader.items():
            session = self._session(node_id)
            if not session.opened and not self._open(session):
                self._acknowledgements.put_back(acknowledgements)
                continue
            if pipelined and not renews(acknowledgements):
                request = session.acknowledge_request(acknowledgements)
                self._begin(_InFlight(session, set(), acknowledgements), SHARE_ACKNOWLEDGE, request)
                continue
            self._acknowledge(session, acknowledgements)

    def _open(self, session: ShareSession) -> bool:
        """Open an empty session (to acknowledge through it without acquiring anything)."""
        try:
            response = self._cluster.request(
                SHARE_FETCH,
                session.fetch_request(
                    set(), {}, max_records=1, max_wait_ms=0, max_bytes=self.max_bytes
                ),
                node_id=session.node_id,
                idempotent=False,
            )
        except KafkaError as error:
            # As any failed ShareFetch: the leader may be gone, and without marking the
            # leaders stale the caller's acknowledgements went to the dead broker again and again.
            self._fetch_error(session, {}, error)
            return False
        self._request_ok(f"ShareFetch to node {session.node_id}")
        if response.error_code:
            self._request_failed(session, {}, response, "ShareFetch")
            return False
        session.partitions = set()
        session.advance()
        return True

    def _acknowledge(
        self, session: ShareSession, acknowledgements: dict[TopicIdPartition, Offsets]
    ) -> None:
        try:
            response = self._cluster.request(
                SHARE_ACKNOWLEDGE,
                session.acknowledge_request(acknowledgements),
                node_id=session.node_id,
                idempotent=False,
            )
        except KafkaError as error:
            self._acknowledge_error(session, acknowledgements, error)
            return
        self._acknowledged(session, acknowledgements, response)

    def _acknowledge_error(
        self,
        session: ShareSession,
        acknowledgements: dict[TopicIdPartition, Offsets],
        error: KafkaError,
    ) -> None:
        self._request_error(f"ShareAcknowledge to node {session.node_id}", error)
        session.reset()
        self._topics.stale = True  # the leader may have moved, as after a failed ShareFetch
        self._fail_all(acknowledgements, "NETWORK_EXCEPTION")

    def _acknowledged(
        self,
        session: ShareSession,
        acknowledgements: dict[TopicIdPartition, Offsets],
        response,
        *,
        advanced: bool = False,
    ) -> None:
        self._request_ok(f"ShareAcknowledge to node {session.node_id}")
        if response.error_code:
            if advanced:
                session.reset()
            self._request_failed(session, acknowledgements, response, "ShareAcknowledge")
            return
        if not advanced:
            session.advance()
        self._note_lock_timeout(response.acquisition_lock_timeout_ms)
        for topic in response.responses:
            for data in topic.partitions:
                partition = self._topics.partition(topic.topic_id, data.partition_index)
                if partition is None or not data.error_code:
                    continue
                self._failed(
                    partition, acknowledgements.get(partition, {}), error_name(data.error_code)
                )
                if data.error_code in LEADER_MOVED_ERROR_CODES:
                    self._topics.moved(partition, _leader_hint(session, data))

    def _close_session(self, session: ShareSession) -> None:
        response = self._cluster.request(
            SHARE_ACKNOWLEDGE,
            session.acknowledge_request({}, close=True),
            node_id=session.node_id,
            idempotent=False,
        )
        if response.error_code:
            logger.info(
                "%s: closing the share session on node %d: %s",
                self.group_id,
                session.node_id,
                error_name(response.error_code),
            )
        session.reset()

    # -- pipelining -------------------------------------------------------------------------

    def _begin(self, item: _InFlight, api, request: dict) -> None:
        """Send a request without waiting; its session moves on at once (the broker takes a
        connection's requests in order), and is reset if the answer is an error."""
        session = item.session
        try:
            connection = self._cluster.connection(session.node_id)
            item.pending = connection.begin(api, request)
        except KafkaError as error:
            if item.fetch:
                self._fetch_error(session, item.acknowledgements, error)
            else:
                self._acknowledge_error(session, item.acknowledgements, error)
            return
        item.connection = connection
        if item.fetch:
            session.partitions = set(item.partitions)
        session.advance()
        self._in_flight.append(item)

    def _complete_in_flight(self) -> None:
        """Read the answers of pipelined requests (before any other request goes out)."""
        while self._in_flight:
            item = self._in_flight.pop(0)
            assert item.connection is not None and item.pending is not None
            try:
                response = item.connection.finish(item.pending)
            except KafkaError as error:
                if item.fetch:
                    self._fetch_error(item.session, item.acknowledgements, error)
                else:
                    self._acknowledge_error(item.session, item.acknowledgements, error)
                continue
            if not item.fetch:
                self._acknowledged(item.session, item.acknowledgements, response, advanced=True)
                continue
            records = self._fetched(
                item.session,
                item.partitions,
                item.acknowledgements,
                response,
                item.max_acquired,
                advanced=True,
            )
            if records:
                self._ready += records
                self._ready_since = item.sent_at

    def _take_ready(self, max_records: int) -> list[ReceivedRecord]:
        """Prefetched records for this poll (at most ``max_records``; the rest wait for the
        next). Records whose lock has run out by now are dropped: the broker has them back."""
        since = self._ready_since or time.time()
        lock_ms = self._lock_timeout_ms
        if lock_ms and time.time() - since >= lock_ms / 1000:
            logger.info(
                "%s: %d prefetched record(s) not polled within the %d ms lock; dropped",
                self.group_id,
                len(self._ready),
                lock_ms,
            )
            self._ready = []
            return []
        records, self._ready = self._ready[:max_records], self._ready[max_records:]
        self._last_acquired_at = since
        return records

    def _release_ready(self) -> None:
        """Closing: RELEASE prefetched records nobody polled, so others get them at once."""
        ready, self._ready = self._ready, []
        for record in ready:
            self._acknowledgements.add(record.handle, record.offset, RELEASE)

    # -- errors -----------------------------------------------------------------------------

    def _request_error(self, what: str, error: KafkaError) -> None:
        """A request failed in transport: back off, and log the outage once per episode."""
        self._failed_requests += 1
        episode = self._episodes.get(what)
        if episode is None:
            episode = self._episodes[what] = FailureEpisode(logger, f"{self.group_id}: {what}")
        episode.failed(error, self._backoff.failed())

    def _request_ok(self, what: str) -> None:
        """A request was answered: its episode ends, and the backoff starts over.

        Any answer resets the backoff, not only the end of every episode: after a broker died
        and its partitions moved, nothing is sent to it any more, so its episode never ends;
        waiting for that kept prefetching off (``_prefetch`` refuses while backing off) for as
        long as the process ran. A broker that is still down is not hammered: the cluster
        fails a connect to it at once until its own reconnect backoff has passed."""
        episode = self._episodes.get(what)
        if episode is not None and episode.ongoing:
            episode.succeeded()
        if self._backoff.failures:
            self._backoff.succeeded()

    def _request_failed(
        self,
        session: ShareSession,
        acknowledgements: dict[TopicIdPartition, Offsets],
        response,
        api: str,
    ) -> None:
        code = response.error_code
        if code in SHARE_SESSION_ERROR_CODES:
            # The session is gone; its acquisitions are not: acknowledge via a new session.
            logger.info(
                "%s: %s says %s; opening a new share session", self.group_id, api, error_name(code)
            )
            session.reset()
            self._acknowledgements.put_back(acknowledgements)
            return
        error: BrokerError = error_for_code(code, response.error_message, context=api)
        logger.error("%s: %s", self.group_id, error)
        self._fail_all(acknowledgements, error.name)

    def _partition_error(
        self, session: ShareSession, partition: TopicIdPartition, data, api
    ) -> None:
        code = data.error_code
        if code in LEADER_MOVED_ERROR_CODES:
            logger.info(
                "%s: %s for %s[%d] on node %d: %s; looking for its leader",
                self.group_id,
                api,
                partition.topic,
                partition.partition,
                session.node_id,
                error_name(code),
            )
            self._topics.moved(partition, _leader_hint(session, data))
            return
        logger.warning(
            "%s: %s for %s[%d]: %s %s",
            self.group_id,
            api,
            partition.topic,
            partition.partition,
            error_name(code),
            data.error_message or "",
        )

    def _fail_all(self, acknowledgements: dict[TopicIdPartition, Offsets], error: str) -> None:
        for partition, offsets in acknowledgements.items():
            self._failed(partition, offsets, error)

    def _failed(self, partition: TopicIdPartition, offsets: Offsets, error: str) -> None:
        failures = [
            AcknowledgementFailure(partition.topic, partition.partition, offset, error)
            for offset, wire_type in sorted(offsets.items())
            if wire_type != GAP
        ]
        if failures:
            with self._state_lock:
                self._failures += failures

    def _note_lock_timeout(self, timeout_ms: int) -> None:
        if timeout_ms and timeout_ms > 0:
            self._lock_timeout_ms = timeout_ms

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalStateError("This share consumer has already been closed.")


#: Partition errors whose ``CurrentLeader`` names the leader (KIP-951); with the others the
#: broker leaves it unset (Kafka 4.4 sends leader id 0 with UNKNOWN_TOPIC_OR_PARTITION).
_LEADER_HINT_ERROR_CODES = frozenset(
    {ErrorCode.NOT_LEADER_OR_FOLLOWER.value, ErrorCode.FENCED_LEADER_EPOCH.value}
)


def _leader_hint(session: ShareSession, data) -> int:
    """The leader a partition error names, or -1 (ask Metadata): only errors that carry one
    are believed, and never the broker that has just refused to lead the partition."""
    if data.error_code not in _LEADER_HINT_ERROR_CODES:
        return -1
    leader = data.current_leader.leader_id
    return -1 if leader == session.node_id else leader


class _InFlight:
    """A pipelined ShareFetch (``fetch``) or ShareAcknowledge and what rode on it."""

    __slots__ = (
        "session",
        "partitions",
        "acknowledgements",
        "fetch",
        "max_acquired",
        "sent_at",
        "connection",
        "pending",
    )

    def __init__(
        self,
        session: ShareSession,
        partitions: set[TopicIdPartition],
        acknowledgements: dict[TopicIdPartition, Offsets],
        *,
        fetch: bool = False,
        max_acquired: int = 0,
    ) -> None:
        self.session = session
        self.partitions = partitions
        self.acknowledgements = acknowledgements
        self.fetch = fetch
        self.max_acquired = max_acquired
        self.sent_at = time.time()
        self.connection: BrokerConnection | None = None
        self.pending: PendingResponse | None = None
