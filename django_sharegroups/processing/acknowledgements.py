"""Per-job acknowledgement bookkeeping: which record of a job got which acknowledgement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from ..clients.base import AcknowledgeType, ReceivedRecord
from ..exceptions import NotSupportedError, ShareGroupsError
from ..messages import Message

#: The one error ``extend_lock`` raises where the client adapter cannot RENEW.
RENEW_NOT_SUPPORTED = (
    "extend_lock() needs RENEW (KIP-1222), which the {adapter} client adapter cannot send "
    "(librdkafka has none yet); use the 'native' adapter, or keep jobs shorter than the "
    "acquisition lock."
)

_ACCEPT = AcknowledgeType.ACCEPT

#: The empty ``delays``/``dead_letters`` of a job that has none (never written: replaced by a
#: dict of the job's own at the first entry).
_NONE: dict = {}

#: Type names for event payloads (``Enum.name`` is a Python-level property).
TYPE_NAMES = {ack_type: ack_type.name for ack_type in AcknowledgeType}


class AcknowledgementError(ShareGroupsError):
    """A record was acknowledged twice, or does not belong to the job acknowledging it."""


class JobAcknowledgements:
    """Acknowledgements a consumer made during one job, in the order it made them, keyed by
    each message's ``record`` (one per delivery, hashed by identity).

    Only the owning consumer thread hands them to the client, so workers never touch it.
    """

    __slots__ = (
        "_messages",
        "_types",
        "error",
        "errors",
        "delays",
        "dead_letters",
        "lapsed",
        "lapsed_before_start",
        "on_renew",
        "adapter",
        "started",
        "seconds",
        "durations",
        "trace_headers",
    )

    def __init__(self, messages: Iterable[Message]) -> None:
        # A loop, not a comprehension: a one-record job (per_message) builds no function frame.
        # (As fast per record as a comprehension, and faster than ``dict(zip(...))``, whose
        # pairs go through the generic sequence path.)
        by_key: dict[ReceivedRecord, Message] = {}
        for message in messages:
            by_key[message.record] = message
        self._messages = by_key
        self._types: dict[ReceivedRecord, AcknowledgeType] = {}
        #: The exception ``consume`` raised, if it did (the DLQ records its class and message).
        self.error: BaseException | None = None
        #: One-record jobs run back to back (``execute_singly``): the exception of each call
        #: that raised, by the record it raised on (shares an empty dict until one does).
        self.errors: dict[ReceivedRecord, BaseException] = _NONE
        #: Delay (ms) of each delayed release. This and the two below are rare: they share an
        #: empty container until the first entry (most jobs never need one).
        self.delays: dict[ReceivedRecord, int] = _NONE
        #: Records the consumer sent to the DLQ explicitly, with the reason it gave.
        self.dead_letters: dict[ReceivedRecord, BaseException | str | None] = _NONE
        #: Records whose lease ran out before they were acknowledged (:meth:`lapse`).
        self.lapsed: set[ReceivedRecord] | frozenset[ReceivedRecord] = frozenset()
        #: How many of them ran out before ``consume`` could start (they were not processed).
        self.lapsed_before_start = 0
        #: Set by the runtime: how ``extend_lock`` reaches the client (None = cannot RENEW).
        self.on_renew: Callable[[Message], None] | None = None
        #: The client adapter's name, for the error when it cannot RENEW.
        self.adapter: str | None = None
        #: Records ``consume`` was called with (lapsed ones are not) and how long it took.
        self.started = 0
        self.seconds = 0.0
        #: One-record jobs run back to back: each call's seconds (None: one ``consume`` call).
        self.durations: list[float] | None = None
        #: Tracing on: the trace headers of the job's span, for its client-side DLQ copies.
        self.trace_headers: list[tuple[str, bytes | None]] | None = None

    def add(self, message: Message) -> None:
        """``message`` joins the job (one-record jobs run back to back share one set)."""
        self._messages[message.record] = message

    def forget(self, message: Message) -> None:
        """``message`` leaves the job with whatever was marked for it (its call was cut short
        by an error that ends the thread: nobody settles it, the broker redelivers it)."""
        key = message.record
        for marks in (self._messages, self._types, self.delays, self.dead_letters):
            if key in marks:
                del marks[key]
        if key in self.lapsed:
            self.lapsed.discard(key)  # type: ignore[union-attr]

    def fail(self, messages: Iterable[Message], error: BaseException) -> None:
        """``consume`` raised ``error`` on ``messages`` (one call of several)."""
        if self.errors is _NONE:
            self.errors = {}
        for message in messages:
            self.errors[message.record] = error

    def error_for(self, record: ReceivedRecord) -> BaseException | str | None:
        """Why ``record`` is settled as it is: the reason it was dead-lettered with, or the
        exception ``consume`` raised on it."""
        return self.dead_letters.get(record) or self.errors.get(record) or self.error

    def lapse(self, record: ReceivedRecord) -> None:
        """The lease of ``record`` ran out before it was acknowledged."""
        if not self.lapsed:
            self.lapsed = set()
        self.lapsed.add(record)  # type: ignore[union-attr]

    def mark(self, message: Message, ack_type: AcknowledgeType, delay: int | None = None) -> None:
        key = message.record
        if key not in self._messages:
            raise AcknowledgementError(f"{message!r} is not part of the job being processed.")
        if key in self._types:
            raise AcknowledgementError(
                f"{message!r} was already acknowledged as {self._types[key].name}."
            )
        if delay is not None:
            if ack_type is not AcknowledgeType.RELEASE or delay < 0:
                raise AcknowledgementError("Only a RELEASE can be delayed, by 0 ms or more.")
            if self.delays is _NONE:
                self.delays = {}
            self.delays[key] = delay
        self._types[key] = ack_type

    def revoke_accepts(
        self, keep: set[ReceivedRecord] | frozenset[ReceivedRecord] = frozenset()
    ) -> list[Message]:
        """After a rollback the job's ACCEPTs must not reach the broker: turn them into
        RELEASEs (except ``keep``); REJECTs and releases stand. Returns the revoked ones."""
        revoked = []
        for key, ack_type in self._types.items():
            if ack_type is AcknowledgeType.ACCEPT and key not in keep:
                self._types[key] = AcknowledgeType.RELEASE
                revoked.append(self._messages[key])
        return revoked

    def dead_letter(self, message: Message, error: BaseException | str | None) -> None:
        """Dead-letter ``message`` (it is REJECTed once the DLQ has it)."""
        self.mark(message, AcknowledgeType.REJECT)
        if self.dead_letters is _NONE:
            self.dead_letters = {}
        self.dead_letters[message.record] = error

    def renew(self, message: Message) -> None:
        if message.record not in self._messages:
            raise AcknowledgementError(f"{message!r} is not part of the job being processed.")
        if message.record in self._types:
            raise AcknowledgementError(f"{message!r} is already acknowledged; nothing to renew.")
        if self.on_renew is None:
            adapter = f"'{self.adapter}'" if self.adapter else "this"
            raise NotSupportedError(RENEW_NOT_SUPPORTED.format(adapter=adapter))
        self.on_renew(message)

    def mark_all_unacknowledged(
        self, ack_type: AcknowledgeType, among: Iterable[Message] | None = None
    ) -> list[Message]:
        """Acknowledge what is still open (e.g. RELEASE after an exception), of ``among`` only
        when given (one call's records); return those."""
        if among is None:
            left = self.unacknowledged()
        else:
            left = [m for m in among if m.record not in self._types]
        types = self._types
        for message in left:
            types[message.record] = ack_type
        return left

    def accept(self, message: Message) -> None:
        """``mark(message, ACCEPT)``, the common case: once per record, so the type is a
        module global (reading ``AcknowledgeType.ACCEPT`` costs 90 ns, nine times a global).
        ``ShareGroupConsumer.mark_accepted`` repeats these lines rather than call this."""
        key = message.record
        types = self._types
        if key in types or key not in self._messages:
            self.mark(message, _ACCEPT)  # raises the right error
            return
        types[key] = _ACCEPT

    def complete(self) -> bool:
        """Whether every record of the job is acknowledged."""
        return len(self._types) == len(self._messages)

    def has(self, ack_type: AcknowledgeType) -> bool:
        return ack_type in self._types.values()

    def marked(self) -> Mapping[ReceivedRecord, AcknowledgeType]:
        """The type of each acknowledgement by record, in order (a view, no copy)."""
        return self._types

    @property
    def messages(self) -> Mapping[ReceivedRecord, Message]:
        """The job's messages by record."""
        return self._messages

    def unacknowledged(self) -> list[Message]:
        return [m for key, m in self._messages.items() if key not in self._types]

    def items(self) -> list[tuple[Message, AcknowledgeType]]:
        return [(self._messages[key], ack_type) for key, ack_type in self._types.items()]

    def counts(self, messages: Iterable[Message] | None = None) -> dict[str, int]:
        """Acknowledgements per type name (of ``messages`` only, when given). A one-record
        job (``per_message``) is counted without a ``Counter``, which costs more than the rest
        of this for one record."""
        types = self._types
        if messages is not None:
            types = {m.record: types[m.record] for m in messages}
        if len(types) == 1:
            (only,) = types.values()
            return {TYPE_NAMES[only]: 1}
        return {TYPE_NAMES[t]: n for t, n in Counter(types.values()).items()}
