"""Errors of the in-memory broker, named with Kafka's error codes so tests read like Kafka."""

from __future__ import annotations

from ...exceptions import ShareGroupsError
from ...kafka.errors import ErrorCode

__all__ = ["BrokerError", "IllegalStateError"]


class BrokerError(ShareGroupsError):
    """A request the broker refused; ``error`` is Kafka's error name (``INVALID_RECORD_STATE``)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        #: Kafka's code for the name (a name Kafka does not have is a bug here: KeyError).
        self.code = ErrorCode[error].value
        self.error = error
        self.message = message


class IllegalStateError(ShareGroupsError):
    """A client used out of order (poll before subscribe, use after close).

    The Java share consumer throws ``IllegalStateException`` in the same situations.
    """
