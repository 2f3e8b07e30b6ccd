"""Settlement strategies: what becomes of each record of a finished job.

A job's consumer marks records (ACCEPT, RELEASE with or without delay, REJECT, dead-letter);
the topic's strategy — chosen once at startup from its options — turns those marks into
settlements, and the listener's owner thread only applies them to the client. ``default``:
acknowledge as marked, hold delayed releases. ``dead_letter``: the same, but a record that
failed on its ``max_retries``-th delivery (or was dead-lettered by the consumer) goes to the
DLQ topic first. Records whose lock lapsed are left to the broker in both.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Protocol

from ..clients.base import AcknowledgeType
from ..messages import Message
from .acknowledgements import JobAcknowledgements


class Action(enum.Enum):
    ACKNOWLEDGE = "acknowledge"
    #: Hold for a delayed release (``delay_ms``).
    HOLD = "hold"
    #: Copy to the DLQ topic, then REJECT (RELEASE if the DLQ does not take it).
    DEAD_LETTER = "dead_letter"
    #: The lock ran out first: acknowledge (the broker may refuse), report nothing archived.
    LAPSED = "lapsed"


class Settlement:
    __slots__ = ("message", "ack_type", "action", "error", "delay_ms")

    def __init__(
        self,
        message: Message,
        ack_type: AcknowledgeType,
        action: Action = Action.ACKNOWLEDGE,
        error: BaseException | str | None = None,
        delay_ms: int = 0,
    ) -> None:
        self.message = message
        self.ack_type = ack_type
        self.action = action
        self.error = error
        self.delay_ms = delay_ms

    def __repr__(self) -> str:
        return f"<Settlement {self.message!r} {self.action.value} {self.ack_type.name}>"


class SettlementStrategy(Protocol):
    def settle(self, acknowledgements: JobAcknowledgements) -> Iterator[Settlement]: ...

    def as_marked(self, acknowledgements: JobAcknowledgements) -> bool:
        """Whether every record is simply acknowledged as marked (the common case, which the
        owner thread then applies without a ``Settlement`` per record)."""
        ...


def _plain(acknowledgements: JobAcknowledgements) -> bool:
    return not (acknowledgements.lapsed or acknowledgements.delays or acknowledgements.dead_letters)


class DefaultStrategy:
    """Acknowledge as marked; hold delayed releases; leave lapsed records to the broker."""

    def as_marked(self, acknowledgements: JobAcknowledgements) -> bool:
        return _plain(acknowledgements)

    def settle(self, acknowledgements: JobAcknowledgements) -> Iterator[Settlement]:
        lapsed, delays = acknowledgements.lapsed, acknowledgements.delays
        for message, ack_type in acknowledgements.items():
            record = message.record
            if record in lapsed:
                yield Settlement(message, ack_type, Action.LAPSED)
            elif record in delays:
                yield Settlement(message, ack_type, Action.HOLD, delay_ms=delays[record])
            else:
                yield Settlement(message, ack_type, error=acknowledgements.error_for(record))


class DeadLetterStrategy:
    """Like the default, but failed records at their retry limit go to ``topic`` first."""

    def __init__(self, topic: str, max_retries: int) -> None:
        self.topic = topic
        self.max_retries = max_retries

    def as_marked(self, acknowledgements: JobAcknowledgements) -> bool:
        return _plain(acknowledgements) and not acknowledgements.has(AcknowledgeType.RELEASE)

    def settle(self, acknowledgements: JobAcknowledgements) -> Iterator[Settlement]:
        dead_letters = acknowledgements.dead_letters
        for settlement in DefaultStrategy().settle(acknowledgements):
            message = settlement.message
            record = message.record
            if settlement.action is not Action.LAPSED and (
                record in dead_letters
                or (
                    settlement.ack_type is AcknowledgeType.RELEASE
                    and message.delivery_count >= self.max_retries
                )
            ):
                error = acknowledgements.error_for(record)
                yield Settlement(message, AcknowledgeType.REJECT, Action.DEAD_LETTER, error)
            else:
                yield settlement
