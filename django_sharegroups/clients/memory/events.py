"""What happened inside the in-memory broker, for listeners (tests, the demo's log).

Listeners are called after the broker lock is released, in the order things happened, so a
listener may call back into the broker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["BrokerEvent", "EventKind"]


class EventKind(enum.StrEnum):
    ACQUIRED = "acquired"
    ACCEPTED = "accepted"
    RELEASED = "released"
    REJECTED = "rejected"
    RENEWED = "renewed"
    LOCK_EXPIRED = "lock_expired"
    ARCHIVED = "archived"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One state change. Record events carry coordinates; member events only the member."""

    kind: EventKind
    group_id: str
    member_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    delivery_count: int | None = None
    #: For ``ARCHIVED``: why (``REJECTED`` or ``DELIVERY_COUNT_EXCEEDED``).
    reason: str | None = None
