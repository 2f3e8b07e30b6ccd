"""The client adapter interface: what the runtime needs from any share-consumer client.

The runtime talks to librdkafka, the in-memory broker and the native client through this one
interface. Adapters differ in what they can do; they say so through ``capabilities`` and the
runtime refuses, at startup, features an adapter cannot honour (``require``).
"""

from __future__ import annotations

import enum
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..exceptions import CapabilityError, ShareGroupsError


class AcknowledgeType(enum.Enum):
    """How the broker should treat an acquired record (KIP-932, RENEW from KIP-1222)."""

    ACCEPT = "accept"
    RELEASE = "release"
    REJECT = "reject"
    RENEW = "renew"

    #: Members are singletons compared by identity, so they hash by identity too, in C.
    #: ``Enum.__hash__`` is a Python function: counting a 500-record job's acknowledgement
    #: types (``acks.sent``, ``job.finished``) took 0.28 µs per record with it.
    __hash__ = object.__hash__


class Capability(enum.StrEnum):
    """Optional abilities of a client adapter."""

    #: RENEW acknowledgements (extend the acquisition lock without releasing).
    RENEW = "renew"
    #: The broker never acquires more records than the poll asked for (KIP-1206).
    STRICT_RECORD_LIMIT = "strict_record_limit"
    #: Records may stay unacknowledged across polls (librdkafka forbids it in explicit mode).
    HOLD_ACROSS_POLLS = "hold_across_polls"


class ReceivedRecord:
    """One acquired record as the adapter hands it over: bytes, coordinates, delivery count.

    ``handle`` is whatever the adapter needs to acknowledge the record later (for example the
    ``confluent_kafka.Message``); the runtime never looks inside it. A plain ``__slots__``
    class: one is built per record, and a frozen dataclass costs three times as much to
    construct. Treat it as read-only. Records compare and hash by identity: each is one
    delivery, and the engine keys its leases and acknowledgements by the record itself (a
    pointer hash, where hashing a ``(topic, partition, offset)`` tuple took 16 ns more at each
    of about ten dictionary operations per record).
    """

    __slots__ = (
        "topic",
        "partition",
        "offset",
        "key",
        "value",
        "headers",
        "timestamp_ms",
        "delivery_count",
        "handle",
    )

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] = (),
        timestamp_ms: int | None = None,
        delivery_count: int = 1,
        handle: Any = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp_ms = timestamp_ms
        self.delivery_count = delivery_count
        self.handle = handle

    @property
    def coordinates(self) -> tuple[str, int, int]:
        """``(topic, partition, offset)``: where the record is, for logs and database rows."""
        return (self.topic, self.partition, self.offset)

    def __repr__(self) -> str:
        return (
            f"ReceivedRecord({self.topic}[{self.partition}]@{self.offset}, "
            f"delivery_count={self.delivery_count})"
        )


@dataclass(frozen=True, slots=True)
class AcknowledgementFailure:
    """An acknowledgement the broker refused, with the broker's error name."""

    topic: str
    partition: int
    offset: int
    error: str


class ShareConsumerClient(ABC):
    """One share-group member. Not thread-safe: only the thread that owns it may call it."""

    #: Adapter name as used in settings (``confluent``, ``memory``, ``native``).
    name: ClassVar[str]
    #: What this adapter can do beyond the basics.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Whether ``acknowledge_all`` takes many records for less than one ``acknowledge`` each
    #: (then the engine hands over a poll's ACCEPTs together; otherwise each job's at once).
    bulk_acknowledge: ClassVar[bool] = False

    @abstractmethod
    def subscribe(self, topics: Sequence[str]) -> None:
        """Join the share group for these topics (replaces any earlier subscription)."""

    @abstractmethod
    def poll(self, max_records: int, timeout: float) -> list[ReceivedRecord]:
        """Acquire up to ``max_records`` records, waiting at most ``timeout`` seconds.

        Adapters without ``strict_record_limit`` may return more; the runtime copes.
        """

    @abstractmethod
    def acknowledge(self, record: ReceivedRecord, ack_type: AcknowledgeType) -> None:
        """Record an acknowledgement locally; it reaches the broker with the next poll/commit."""

    def acknowledge_all(self, records: Sequence[ReceivedRecord], ack_type: AcknowledgeType) -> None:
        """``acknowledge`` each of ``records`` with the same type (a finished job's ACCEPTs);
        adapters that buffer acknowledgements themselves take them at once."""
        acknowledge = self.acknowledge
        for record in records:
            acknowledge(record, ack_type)

    @abstractmethod
    def commit_sync(self, timeout: float) -> list[AcknowledgementFailure]:
        """Send pending acknowledgements and wait; return the ones the broker refused."""

    @abstractmethod
    def commit_async(self) -> None:
        """Send pending acknowledgements without waiting."""

    def take_acknowledgement_failures(self) -> list[AcknowledgementFailure]:
        """Refusals the broker reported since the last call (e.g. while polling)."""
        return []

    def acquisition_lock_timeout_ms(self) -> int | None:
        """The broker's current acquisition lock duration, when the adapter knows it."""
        return None

    def prefetch(self, max_records: int) -> None:  # noqa: B027 - optional, nothing by default
        """Start acquiring up to ``max_records`` for the next poll now, while the caller
        processes what it has (the next poll hands them over). Adapters that cannot ignore it."""

    def take_prefetched(self) -> list[ReceivedRecord]:
        """The records prefetches acquired that no poll has taken yet (an answer still on
        its way is waited for), without asking for more: a stopping listener processes them
        rather than release them with a delivery attempt spent. None by default."""
        return []

    def acquire_whole_batches(self, allowed: bool) -> None:  # noqa: B027 - optional
        """The caller finishes whole producer batches well within the lock (``allowed``), so
        polls may acquire more than asked when that is cheaper for the broker. Adapters that
        always acquire whole batches, or never can, ignore it."""

    def last_poll_acquired_at(self) -> float | None:
        """When (``time.time()``) the records of the last poll were asked for, if that was
        before the poll began (they were prefetched); ``None`` otherwise."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Send pending acknowledgements, leave the group and free resources."""

    @classmethod
    def supports(cls, capability: Capability) -> bool:
        return capability in cls.capabilities

    @classmethod
    def require(cls, capability: Capability, feature: str) -> None:
        """Fail loudly when ``feature`` needs a capability this adapter does not have."""
        if capability not in cls.capabilities:
            raise CapabilityError(
                f"{feature} needs the '{capability.value}' capability, which the "
                f"'{cls.name}' client adapter does not have."
            )


class BufferedAcknowledgements:
    """The commit half of the interface for adapters that buffer acknowledgements and send
    them with the next poll or commit (``memory``, ``native``).

    The adapter provides ``_check_open()``, ``_send_acknowledgements()``, ``_state_lock`` and
    the ``_failures`` list that sending fills with refusals.
    """

    _failures: list[AcknowledgementFailure]
    _state_lock: threading.Lock | threading.RLock

    def _check_open(self) -> None:
        raise NotImplementedError

    def _send_acknowledgements(self) -> None:
        raise NotImplementedError

    def commit_sync(self, timeout: float) -> list[AcknowledgementFailure]:
        """Send pending acknowledgements; return every refusal not reported yet."""
        self._check_open()
        self._send_acknowledgements()
        return self.take_acknowledgement_failures()

    def commit_async(self) -> None:
        self._check_open()
        self._send_acknowledgements()

    def take_acknowledgement_failures(self) -> list[AcknowledgementFailure]:
        """Refusals not reported yet (from acknowledgements sent by poll or commit_async)."""
        with self._state_lock:
            failures, self._failures = self._failures, []
        return failures


class ProduceError(ShareGroupsError):
    """The broker did not take a record (the message names the broker's error)."""


class RecordProducer(ABC):
    """Produces a record and waits until the broker has it: for dead-letter queues, replays
    and delay topics, where "sent" must mean "stored" before the original is acknowledged."""

    @abstractmethod
    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
        timeout: float = 30.0,
    ) -> tuple[int, int]:
        """Store one record; return its ``(partition, offset)`` or raise ``ProduceError``."""

    def close(self, timeout: float = 30.0) -> None:  # noqa: B027 - nothing to free by default
        """Deliver anything still buffered and free resources."""


class ShareConsumerClientFactory(ABC):
    """Creates members for one broker; one factory per process, shared by all threads."""

    client_class: ClassVar[type[ShareConsumerClient]]
    _producer: RecordProducer | None = None

    def producer(self) -> RecordProducer:
        """The process-wide producer for this broker, created on first use."""
        if self._producer is None:
            self._producer = self._create_producer()
        return self._producer

    def _create_producer(self) -> RecordProducer:
        raise CapabilityError(f"The '{self.client_class.name}' client adapter cannot produce.")

    def share_group_config(self, group_id: str) -> Mapping[str, Any]:
        """The group's effective share-group configs as the broker reports them ({} if the
        adapter cannot ask); read once at startup for lock duration and delivery limit."""
        return {}

    def preflight(self, group_ids: Sequence[str]) -> None:  # noqa: B027 - nothing to check
        """Check, before consuming, that the broker can serve these share groups; raise
        ``ConfigurationError`` with what to fix when it cannot."""

    def close(self) -> None:
        """Flush and close the producer, if one was made (on process shutdown)."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    @abstractmethod
    def create(
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> ShareConsumerClient:
        """A new, unsubscribed member of ``group_id``."""
