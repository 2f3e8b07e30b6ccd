"""``ShareGroupConsumer``: the base class users subclass to process share-group records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .clients.base import AcknowledgeType
from .exceptions import ShareGroupsError

if TYPE_CHECKING:
    from .clients.base import RecordProducer
    from .messages import Message, Messages
    from .processing.acknowledgements import JobAcknowledgements
    from .routing import ShareGroup, Topic

_ACCEPT = AcknowledgeType.ACCEPT


class ShareGroupConsumer:
    """Processes the jobs of one topic in one consumer thread; lives as long as the thread.

    Acknowledge each message explicitly with ``mark_accepted``, ``mark_released`` or
    ``mark_rejected``. A message left unacknowledged when ``consume`` returns is RELEASEd (the
    broker redelivers it with a higher delivery count); an exception RELEASEs the job's
    unacknowledged messages and is logged with its traceback. Set ``acknowledgement =
    "implicit"`` to have a normal return ACCEPT and an exception REJECT whatever is still open.
    There is no partition, offset or seek API here: under share groups the broker decides who
    gets which record.
    """

    #: ``"explicit"`` (default) or ``"implicit"``; a topic's ``acknowledgement`` option wins.
    acknowledgement = "explicit"

    def __init__(
        self,
        share_group: ShareGroup,
        topic: Topic,
        producer: Callable[[], RecordProducer] | None = None,
    ) -> None:
        self.share_group = share_group
        self.topic = topic
        self._acknowledgements: JobAcknowledgements | None = None
        self._producer = producer
        #: ``(atomic, idempotent)``, set by the engine on the first job (transactions.py).
        self._transaction_mode: tuple[bool, bool] | None = None

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> tuple[int, int]:
        """Produce a record with the process's producer for this broker and wait until the
        broker stored it; returns ``(partition, offset)``."""
        if self._producer is None:
            raise ShareGroupsError("This consumer was not started by the runtime; no producer.")
        return self._producer().produce(topic, value, key=key, headers=headers)

    def consume(self, messages: Messages) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement consume(messages).")

    def mark_accepted(self, message: Message) -> None:
        """The record was processed: the broker will not deliver it again."""
        # JobAcknowledgements.accept, inlined: once per record, a call frame was a fifth of it.
        acknowledgements = self._acknowledgements
        if acknowledgements is None:
            self._require_acknowledgements()  # raises
            return
        key = message.record
        types = acknowledgements._types
        if key in types or key not in acknowledgements._messages:
            acknowledgements.accept(message)  # raises the right error
            return
        types[key] = _ACCEPT

    def mark_released(self, message: Message, delay: int | None = None) -> None:
        """Give the record back: the broker redelivers it (delivery count + 1) until its limit.

        ``delay`` (ms) holds the record that long before releasing it, so it is not retried
        at once. Adapters that can RENEW keep its lock alive meanwhile; others (librdkafka)
        honour a delay only within the record's remaining lock and clamp longer ones
        (``release.clamped`` event).
        """
        self._mark(message, AcknowledgeType.RELEASE, delay=delay)

    def dispatch_to_dlq(self, message: Message, error: BaseException | str | None = None) -> None:
        """Send the record to the topic's dead-letter queue now, then REJECT it."""
        self._require_acknowledgements().dead_letter(message, error)

    def extend_lock(self, message: Message) -> None:
        """RENEW the record's acquisition lock (KIP-1222) while you keep working on it.

        Raises ``NotSupportedError`` on adapters without RENEW (``confluent``).
        """
        self._require_acknowledgements().renew(message)

    def mark_rejected(self, message: Message) -> None:
        """The record can never be processed: the broker archives it."""
        self._mark(message, AcknowledgeType.REJECT)

    def shutdown(self) -> None:
        """Called once when the consumer thread stops; release resources here."""

    def lock_expired(self, message: Message) -> None:
        """The acquisition lock of ``message`` ran out before it was acknowledged.

        The broker may already have handed the record to another member, so undo or mark
        partial work here. Called in the thread that processed (or would have processed) it.
        """

    def _mark(self, message: Message, ack_type: AcknowledgeType, delay: int | None = None) -> None:
        self._require_acknowledgements().mark(message, ack_type, delay=delay)

    def _require_acknowledgements(self) -> JobAcknowledgements:
        if self._acknowledgements is None:
            raise ShareGroupsError("Messages can only be acknowledged while consume() runs.")
        return self._acknowledgements
