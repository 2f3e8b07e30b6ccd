"""The ``memory`` client adapter: a share-group member on a ``MemoryBroker``.

Acknowledgements are queued and reach the broker with the next ``poll``, ``commit_sync``,
``commit_async`` or ``close``, as Kafka's client piggybacks them on ShareFetch and
ShareAcknowledge: a RELEASEd record becomes available again only then. Refusals (for example
``INVALID_RECORD_STATE`` when the lock ran out first) are reported once, by whichever of
``take_acknowledgement_failures`` or ``commit_sync`` is called next.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..base import (
    AcknowledgementFailure,
    AcknowledgeType,
    BufferedAcknowledgements,
    Capability,
    ProduceError,
    ReceivedRecord,
    RecordProducer,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from .broker import MemoryBroker, default_broker
from .errors import BrokerError, IllegalStateError

__all__ = ["MemoryClientFactory", "MemoryShareConsumer", "factory_from_settings"]


class MemoryShareConsumer(BufferedAcknowledgements, ShareConsumerClient):
    """One member of a share group on an in-memory broker.

    It can hold records across polls, renew locks and never acquires more than asked for.
    ``config`` (the factory's ``overrides``) is kept for inspection only: no client setting
    changes how the memory broker behaves.
    """

    name = "memory"
    capabilities = frozenset(
        {Capability.RENEW, Capability.STRICT_RECORD_LIMIT, Capability.HOLD_ACROSS_POLLS}
    )

    def __init__(
        self,
        broker: MemoryBroker,
        group_id: str,
        *,
        client_id: str,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.broker = broker
        self.group_id = group_id
        self.client_id = client_id
        self.config = dict(config or {})
        self._member_id: str | None = None
        self._topics: tuple[str, ...] = ()
        self._pending: list[tuple[str, int, int, AcknowledgeType]] = []
        self._failures: list[AcknowledgementFailure] = []
        self._state_lock = threading.Lock()
        self._closed = False

    @property
    def member_id(self) -> str | None:
        """The broker's id for this member once subscribed (stable across rejoins)."""
        return self._member_id

    def subscribe(self, topics: Sequence[str]) -> None:
        self._check_open()
        topics = tuple(topics)
        if not topics:
            self.unsubscribe()
            return
        self._topics = topics
        if self._member_id is None:
            self._member_id = self.broker.join_group(
                self.group_id, client_id=self.client_id, topics=topics
            )
        else:
            try:
                self.broker.update_subscription(self.group_id, self._member_id, topics)
            except BrokerError as error:
                if error.error != "UNKNOWN_MEMBER_ID":
                    raise
                self._rejoin()

    def unsubscribe(self) -> None:
        """Send pending acknowledgements and leave the group (held records are released)."""
        self._check_open()
        self._send_acknowledgements()
        if self._member_id is not None:
            self.broker.leave_group(self.group_id, self._member_id)
        self._topics = ()

    def poll(self, max_records: int, timeout: float) -> list[ReceivedRecord]:
        self._check_open()
        if not self._topics or self._member_id is None:
            raise IllegalStateError("Consumer is not subscribed to any topics.")
        self._send_acknowledgements()
        try:
            return self.broker.poll(self.group_id, self._member_id, max_records, timeout)
        except BrokerError as error:
            if error.error != "UNKNOWN_MEMBER_ID":
                raise
            # Removed from the group (e.g. by an admin): rejoin, as Kafka's client does.
            self._rejoin()
            return self.broker.poll(self.group_id, self._member_id, max_records, timeout)

    def acknowledge(self, record: ReceivedRecord, ack_type: AcknowledgeType) -> None:
        self._check_open()
        if not isinstance(ack_type, AcknowledgeType):
            raise TypeError(f"ack_type must be an AcknowledgeType, not {ack_type!r}")
        with self._state_lock:
            self._pending.append((record.topic, record.partition, record.offset, ack_type))

    def acquisition_lock_timeout_ms(self) -> int | None:
        return self.broker.record_lock_duration_ms(self.group_id)

    def close(self) -> None:
        """Send pending acknowledgements, then leave: records still held are released."""
        if self._closed:
            return
        try:
            self._send_acknowledgements()
        finally:
            self._closed = True
            if self._member_id is not None and self._topics:
                self.broker.leave_group(self.group_id, self._member_id)

    def simulate_crash(self) -> None:
        """Die without a goodbye, like a killed process.

        Pending acknowledgements are lost and the member stops heartbeating: the broker
        removes it after ``share.session.timeout.ms``, and its records come back then or when
        their acquisition locks expire, whichever is first.
        """
        if self._closed:
            return
        self._closed = True
        with self._state_lock:
            self._pending.clear()
        if self._member_id is not None and self._topics:
            self.broker.crash_member(self.group_id, self._member_id)

    def _send_acknowledgements(self) -> None:
        with self._state_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        # Without a member id nothing was ever acquired; the broker refuses these anyway.
        failures = self.broker.acknowledge(self.group_id, self._member_id or "", pending)
        if failures:
            with self._state_lock:
                self._failures.extend(failures)

    def _rejoin(self) -> None:
        self._member_id = self.broker.join_group(
            self.group_id, client_id=self.client_id, topics=self._topics, member_id=self._member_id
        )

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalStateError("This share consumer has already been closed.")


class MemoryProducer(RecordProducer):
    """Produces straight into the in-memory broker (stored as soon as the call returns)."""

    def __init__(self, factory: MemoryClientFactory) -> None:
        self.factory = factory

    def produce(self, topic, value, *, key=None, headers=(), timeout=30.0) -> tuple[int, int]:
        try:
            return self.factory.broker.produce(topic, value, key=key, headers=list(headers))
        except BrokerError as exc:
            raise ProduceError(str(exc)) from exc


class MemoryClientFactory(ShareConsumerClientFactory):
    """Creates ``memory`` members on ``broker`` (the process-wide default broker if omitted)."""

    client_class = MemoryShareConsumer

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self._broker = broker

    @property
    def broker(self) -> MemoryBroker:
        # Resolved per call, so ``reset_default_broker()`` in a test also reaches factories
        # built earlier without an explicit broker.
        return self._broker or default_broker()

    def create(
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> MemoryShareConsumer:
        return MemoryShareConsumer(self.broker, group_id, client_id=client_id, config=overrides)

    def _create_producer(self) -> MemoryProducer:
        return MemoryProducer(self)

    def share_group_config(self, group_id: str) -> Mapping[str, Any]:
        return self.broker.group_config(group_id)


def factory_from_settings(settings: object) -> MemoryClientFactory:
    """The ``memory`` adapter as the settings select it: members on the default broker."""
    return MemoryClientFactory()
