"""A small event bus: the runtime publishes named events, listeners subscribe with callables.

A listener that raises is isolated (logged, the others still run), so monitoring code can never
break consumption.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("django_sharegroups.instrumentation")

Listener = Callable[[str, dict[str, Any]], None]

#: Event names published by the runtime; docs/events.md lists their payloads.
EVENTS = (
    "consumer.started",
    "consumer.stopped",
    "consumer.error",
    "poll",
    "throttled",
    "records.filtered",
    "record.undeserializable",
    "job.started",
    "job.finished",
    "job.errored",
    "job.unacknowledged",
    "lock.expired",
    "acks.sent",
    "acks.failed",
    "batch.corrupt",
    "process.started",
    "process.quiet",
    "process.shutdown",
    "supervisor.started",
    "supervisor.child_started",
    "supervisor.child_ready",
    "supervisor.child_exited",
    "supervisor.child_restarting",
    "supervisor.gave_up",
    "supervisor.stopping",
    "supervisor.rolling_restart",
    "supervisor.rolling_restart_finished",
    "supervisor.stopped",
)


class EventBus:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._lock = threading.Lock()

    def subscribe(self, event: str, listener: Listener) -> None:
        """Call ``listener(event, payload)`` for ``event`` (``"*"`` = every event)."""
        with self._lock:
            self._listeners.setdefault(event, []).append(listener)

    def unsubscribe(self, event: str, listener: Listener) -> None:
        with self._lock:
            self._listeners.get(event, []).remove(listener)

    def publish(self, event: str, **payload: Any) -> None:
        listeners = self._listeners.get(event, []) + self._listeners.get("*", [])
        for listener in listeners:
            try:
                listener(event, payload)
            except Exception:
                logger.exception("Event listener %r failed on %s", listener, event)


#: The process-wide bus.
events = EventBus()
