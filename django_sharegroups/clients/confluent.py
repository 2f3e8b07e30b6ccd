"""The ``confluent`` adapter: share consumers backed by librdkafka via confluent-kafka.

librdkafka's share consumer is not thread-safe and, in explicit mode, insists that every record
of a poll is acknowledged before the next poll; it has no RENEW and treats ``max.poll.records``
as a soft bound. So this adapter declares no capabilities.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import AcknowledgeType as ConfluentAcknowledgeType
from confluent_kafka import KafkaError, KafkaException, Producer, ShareConsumer

from ..conf import DEFAULTS
from ..exceptions import NotSupportedError
from .base import (
    AcknowledgementFailure,
    AcknowledgeType,
    ProduceError,
    ReceivedRecord,
    RecordProducer,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from .confluent_members import Fetched, FetchMember

logger = logging.getLogger("django_sharegroups.clients.confluent")
librdkafka_logger = logging.getLogger("django_sharegroups.librdkafka")

_ACK_TYPES = {
    AcknowledgeType.ACCEPT: ConfluentAcknowledgeType.ACCEPT,
    AcknowledgeType.RELEASE: ConfluentAcknowledgeType.RELEASE,
    AcknowledgeType.REJECT: ConfluentAcknowledgeType.REJECT,
}

#: librdkafka members per share consumer by default (``SHAREGROUPS["CONFLUENT_MEMBERS"]``'s
#: default): one's poll is at the broker while the other's records are processed
#: (clients/confluent_members.py).
FETCH_MEMBERS: int = DEFAULTS["CONFLUENT_MEMBERS"]

#: Seconds a member's ``close`` may take beyond a poll in progress: a close leaves the group
#: and the share sessions, a few round trips.
CLOSE_TIMEOUT = 5.0

#: Errors a poll can report that only mean "nothing more right now".
_BENIGN_POLL_ERRORS = {KafkaError._PARTITION_EOF, KafkaError._TIMED_OUT}


class ConfluentRecord(ReceivedRecord):
    """A polled ``confluent_kafka.Message`` as a ``ReceivedRecord``. The value and the
    delivery count are copied (every record's payload is decoded, and the ``poll`` event counts
    records per delivery count); the rest is read from the message when asked. The engine's
    common path (one topic, every record ACCEPTed) never asks, and each copy had been a C call
    and a store per record in the fetch thread, under the GIL."""

    __slots__ = ("consumer",)

    def __init__(self, message: Any, consumer: Any = None) -> None:
        self.handle = message
        #: The librdkafka member that polled it (and must acknowledge it).
        self.consumer = consumer
        self.value = message.value()
        self.delivery_count = message.delivery_count() or 1

    # A polled message without error has its topic, partition and offset (typed Optional).
    @property
    def topic(self) -> str:  # type: ignore[override]
        return self.handle.topic()

    @property
    def partition(self) -> int:  # type: ignore[override]
        return self.handle.partition()

    @property
    def offset(self) -> int:  # type: ignore[override]
        return self.handle.offset()

    @property
    def key(self) -> bytes | None:  # type: ignore[override]
        return self.handle.key()

    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]:  # type: ignore[override]
        return self.handle.headers() or ()

    @property
    def timestamp_ms(self) -> int | None:  # type: ignore[override]
        timestamp = self.handle.timestamp()[1]
        return timestamp if timestamp > 0 else None


def _records(consumer: Any, messages: Any) -> list[ReceivedRecord]:
    """A poll's messages as records (run in the member's fetch thread)."""
    records: list[ReceivedRecord] = []
    append = records.append
    for message in messages:
        error = message.error()
        if error is not None:
            _poll_error(error)
            continue
        append(ConfluentRecord(message, consumer))
    return records


def _poll_error(error: KafkaError) -> None:
    """Skip what only means "nothing more right now", raise fatal errors, log the rest."""
    if error.code() in _BENIGN_POLL_ERRORS:
        return
    if error.fatal():
        raise KafkaException(error)
    logger.warning("Share consumer poll reported %s: %s", error.name(), error.str())


class ConfluentShareConsumer(ShareConsumerClient):
    """``members`` librdkafka share consumers in explicit acknowledgement mode, each polled by
    a thread of its own (clients/confluent_members.py). A poll of the adapter hands over one
    member's records; the others' polls wait, or (``prefetch``, while whole producer batches
    are safe) are already at the broker while the listener processes them.

    The first member joins the group at ``subscribe``; the others only when fetching ahead is
    first allowed, so a group whose jobs are slow, or that is throttled, stays one member and
    acquires no more than before. Once joined, every member owns some of the group's
    partitions (the broker assigns them), so each must poll: a poll that finds nothing ready
    has every idle member poll, and up to ``members`` polls' worth may be acquired at once
    (librdkafka keeps fetching for a member whose poll came back empty until records arrive
    anyway)."""

    name = "confluent"
    capabilities = frozenset()

    def __init__(self, config: Mapping[str, Any], members: int = FETCH_MEMBERS) -> None:
        self._config = {
            **config,
            "share.acknowledgement.mode": "explicit",
            "logger": librdkafka_logger,
        }
        self._failures: deque[AcknowledgementFailure] = deque()
        self._results: queue.SimpleQueue[Fetched] = queue.SimpleQueue()
        self._timeout = 0.5
        client_id = self._config.get("client.id", "sharegroups")
        self._members: list[FetchMember] = []
        try:
            for index in range(max(1, members)):
                consumer = ShareConsumer(self._config)
                consumer.set_acknowledgement_commit_callback(self._on_commit)
                name = f"sharegroups-fetch:{client_id}:{index}"
                self._members.append(FetchMember(consumer, _records, self._results, name))
        except BaseException:
            self._close_members()
            raise
        #: Fetched, not handed over yet (non-empty polls, in the order they came).
        self._ready: deque[Fetched] = deque()
        #: Members whose records the listener holds (acknowledged before the next poll).
        self._handed: list[FetchMember] = []
        self._acquired_at: float | None = None
        #: Whole producer batches are safe now (``acquire_whole_batches``): fetch ahead.
        self._fetch_ahead = False
        self._topics: list[str] = []
        #: The members that subscribed (the first at once, the rest on the first prefetch).
        self._joined: list[FetchMember] = []

    def subscribe(self, topics: Sequence[str]) -> None:
        """The first member joins now; the others when fetching ahead is first allowed."""
        self._topics = list(topics)
        self._joined = self._members[:1]
        self._members[0].consumer.subscribe(self._topics)

    def poll(self, max_records: int, timeout: float) -> list[ReceivedRecord]:
        self._timeout = timeout
        for member in self._handed:  # the engine acknowledged all they held
            member.holds = False
        self._handed = []
        self._drain()
        if not self._ready:
            self._wait_first(time.monotonic() + timeout)
        if not self._ready:
            return []
        fetched = self._ready.popleft()
        self._hand_over([fetched])
        return fetched.records

    def acquire_whole_batches(self, allowed: bool) -> None:
        self._fetch_ahead = allowed

    def prefetch(self, max_records: int) -> None:
        """Fetch ahead: every member not holding records polls now, in its thread, while the
        listener processes what it holds. Only while whole producer batches are safe (the
        workers finish them well within the lock): librdkafka acquires whole batches."""
        if max_records > 0 and self._fetch_ahead:
            if len(self._joined) < len(self._members):
                for member in self._members[len(self._joined) :]:
                    member.consumer.subscribe(self._topics)
                self._joined = self._members
            self._poll_idle(self._timeout)

    def take_prefetched(self) -> list[ReceivedRecord]:
        """Stopping: wait for the polls in progress and hand over all they acquired."""
        self._wait_all(time.monotonic() + self._timeout + 1.0)
        taken = list(self._ready)
        self._ready.clear()
        if not taken:
            return []
        self._hand_over(taken)
        return [record for fetched in taken for record in fetched.records]

    def _hand_over(self, taken: list[Fetched]) -> None:
        """The listener now holds these members' records: they owe acknowledgements, and the
        records' locks started when the earliest of their polls began."""
        self._handed.extend(fetched.member for fetched in taken)
        for fetched in taken:
            fetched.member.unsent = True
        self._acquired_at = min(fetched.began for fetched in taken)

    def last_poll_acquired_at(self) -> float | None:
        return self._acquired_at

    def _polling(self) -> bool:
        return any(member.polling for member in self._members)

    def _poll_idle(self, timeout: float) -> None:
        """Every member that joined, holds no records and is not polling polls now."""
        for member in self._joined:
            if not member.polling and not member.holds:
                member.unsent = False  # its acknowledgements ride on the poll
                member.start_poll(timeout)

    def _take(self, fetched: Fetched) -> None:
        fetched.member.polling = False
        if fetched.error is not None:
            raise fetched.error
        if fetched.records:
            fetched.member.holds = True
            self._ready.append(fetched)

    def _drain(self) -> None:
        """Take the answers the fetch threads have given so far."""
        while True:
            try:
                fetched = self._results.get_nowait()
            except queue.Empty:
                return
            self._take(fetched)

    def _wait_first(self, deadline: float) -> None:
        """Wait for the first records until ``deadline``, every idle member polling."""
        while not self._ready:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._poll_idle(left)
            try:
                self._take(self._results.get(timeout=left))
            except queue.Empty:
                return

    def _wait_all(self, deadline: float) -> None:
        """Wait until no member polls (their answers kept), or until ``deadline``."""
        self._drain()
        while self._polling():
            try:
                self._take(self._results.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return

    def acknowledge(self, record: ReceivedRecord, ack_type: AcknowledgeType) -> None:
        try:
            confluent_type = _ACK_TYPES[ack_type]
        except KeyError:
            raise NotSupportedError(
                f"The '{self.name}' client adapter cannot send {ack_type.name} "
                "(librdkafka has no RENEW yet); use the 'native' adapter."
            ) from None
        record.consumer.acknowledge(record.handle, confluent_type)  # type: ignore[attr-defined]

    def acknowledge_all(self, records: Sequence[ReceivedRecord], ack_type: AcknowledgeType) -> None:
        """``acknowledge`` with the type looked up once (a job's ACCEPTs: one C call each)."""
        if not records:
            return
        self.acknowledge(records[0], ack_type)  # an unsupported type raises here
        confluent_type = _ACK_TYPES[ack_type]
        for record in records[1:]:
            record.consumer.acknowledge(record.handle, confluent_type)  # type: ignore[attr-defined]

    def commit_sync(self, timeout: float) -> list[AcknowledgementFailure]:
        self._wait_all(time.monotonic() + self._timeout + 1.0)
        for member in self._joined:
            # Only a member with acknowledgements to send: librdkafka 2.16's commit_sync on
            # one without them, its fetch in flight, could block for the whole timeout. Not
            # while its thread still owns it (a poll that hung).
            if member.unsent and not member.polling:
                member.consumer.commit_sync(timeout)
                member.unsent = False
        return self.take_acknowledgement_failures()

    def commit_async(self) -> None:
        for member in self._handed:
            member.consumer.commit_async()
            member.unsent = False

    def close(self) -> None:
        self._close_members()

    def _close_members(self) -> None:
        """Close every member at once, each in its thread (after its poll returns).

        At once: closing them one after the other made the broker move the leaving member's
        partitions to the next one, and librdkafka 2.16 hangs in ``close`` for good when that
        assignment arrives while it terminates. A close that does not finish in time is left
        behind with a warning: its acknowledgements were committed before."""
        for member in self._members:
            member.close()
        deadline = time.monotonic() + self._timeout + CLOSE_TIMEOUT
        errors = []
        for member in self._members:
            if not member.join(max(0.0, deadline - time.monotonic())):
                logger.warning(
                    "A librdkafka share consumer did not close within %.0f s; leaving it behind "
                    "(its acknowledgements were committed; the broker releases what it still "
                    "holds when its session ends).",
                    self._timeout + CLOSE_TIMEOUT,
                )
            elif member.close_error is not None:
                errors.append(member.close_error)
        if errors:
            raise errors[0]

    def take_acknowledgement_failures(self) -> list[AcknowledgementFailure]:
        failures = self._failures
        return [failures.popleft() for _ in range(len(failures))]

    def _on_commit(self, offsets, exception) -> None:
        """Collect acknowledgements the broker refused (called in the thread that polled or
        committed: the deque takes them from any)."""
        if exception is None:
            return
        error = exception.args[0] if exception.args else None
        name = error.name() if isinstance(error, KafkaError) else repr(exception)
        for partition, partition_offsets in (offsets or {}).items():
            for offset in sorted(partition_offsets):
                self._failures.append(
                    AcknowledgementFailure(partition.topic, partition.partition, offset, name)
                )


class ConfluentProducer(RecordProducer):
    """An idempotent librdkafka producer that waits for each record's delivery report."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._producer = Producer(
            {**config, "enable.idempotence": True, "logger": librdkafka_logger}
        )
        self._lock = threading.Lock()

    def produce(self, topic, value, *, key=None, headers=(), timeout=30.0) -> tuple[int, int]:
        outcome: list = []
        with self._lock:  # delivery reports are served by poll(); one caller at a time
            self._producer.produce(
                topic,
                value,
                key=key,
                headers=list(headers),
                on_delivery=lambda error, message: outcome.append((error, message)),
            )
            deadline = time.monotonic() + timeout
            while not outcome and time.monotonic() < deadline:
                self._producer.poll(0.05)
        if not outcome:
            raise ProduceError(f"no delivery report for {topic} within {timeout}s")
        error, message = outcome[0]
        if error is not None:
            raise ProduceError(f"{error.name()}: {error.str()}")
        return message.partition(), message.offset()

    def close(self, timeout: float = 30.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            logger.error("%d record(s) were still undelivered when the producer closed", left)


class ConfluentClientFactory(ShareConsumerClientFactory):
    """Builds librdkafka share consumers from the project's librdkafka settings."""

    client_class = ConfluentShareConsumer

    def __init__(self, config: Mapping[str, Any], members: int = FETCH_MEMBERS) -> None:
        self.config = dict(config)
        #: librdkafka members per share consumer (``SHAREGROUPS["CONFLUENT_MEMBERS"]``).
        self.members = members

    def create(
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> ConfluentShareConsumer:
        config = {**self.config, **(overrides or {}), "group.id": group_id, "client.id": client_id}
        return ConfluentShareConsumer(config, self.members)

    def _create_producer(self) -> ConfluentProducer:
        return ConfluentProducer(self.config)

    def share_group_config(self, group_id: str) -> Mapping[str, Any]:
        from ..kafka.admin import ShareGroupAdmin

        try:
            with ShareGroupAdmin(self.config) as admin:
                entries = admin.describe_share_group_config(group_id)
        except Exception as exc:  # the consumer can run without it; say what is missing
            logger.warning(
                "Cannot read share group %r's configs (%s); lock duration and delivery limit "
                "fall back to the declared values or Kafka's defaults.",
                group_id,
                exc,
            )
            return {}
        return {name: entry.value for name, entry in entries.items()}

    def preflight(self, group_ids: Sequence[str]) -> None:
        """Share groups must be enabled, and no consumer group may use a share group's name
        (both kinds live in the broker's one group namespace)."""
        from confluent_kafka import ConsumerGroupType
        from confluent_kafka.admin import AdminClient

        from ..exceptions import ConfigurationError
        from ..kafka.admin import ShareGroupAdmin

        with ShareGroupAdmin(self.config) as admin:
            level = admin.finalized_features().get("share.version", 0)
            # ApiVersions is answered before authentication; Metadata is not, so a plaintext
            # client on a SASL listener fails here instead of retrying forever.
            admin.cluster.brokers()
        if level < 1:
            raise ConfigurationError(
                "The Kafka cluster does not serve share groups (feature share.version is "
                f"{level}); enable it: kafka-features.sh upgrade --feature share.version=1."
            )
        admin_config: dict[str, Any] = {**self.config, "logger": librdkafka_logger}
        admin_client = AdminClient(admin_config)
        listing = admin_client.list_consumer_groups(
            types={ConsumerGroupType.CLASSIC, ConsumerGroupType.CONSUMER}, request_timeout=30
        ).result()
        taken = sorted({g.group_id for g in listing.valid} & set(group_ids))
        if taken:
            raise ConfigurationError(
                f"Consumer group(s) {', '.join(taken)} already exist with the name of a "
                "declared share group; share and consumer groups share the broker's group "
                "namespace. Rename the share group or delete the consumer group."
            )


def factory_from_settings(settings) -> ConfluentClientFactory:
    from ..exceptions import ConfigurationError

    if not settings.bootstrap_servers:
        raise ConfigurationError(
            "The 'confluent' client adapter needs Kafka: set KAFKA_BOOTSTRAP_SERVERS or "
            "SHAREGROUPS['KAFKA']['bootstrap.servers']."
        )
    return ConfluentClientFactory(settings.kafka, settings.confluent_members)
