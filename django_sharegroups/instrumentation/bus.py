"""A small event bus: the runtime publishes named events, listeners subscribe with callables.

Event names and payloads are registered in :mod:`.catalog`. A listener that raises is isolated
(logged, the others still run), so monitoring code can never break consumption. The hot path
asks :meth:`EventBus.wants` before it builds a payload, so events nobody listens to cost
nothing. A strict bus (the test suite turns ``EventBus.strict`` on) refuses names and payloads
the catalog does not have.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from ..exceptions import ShareGroupsError
from .catalog import EVENTS

logger = logging.getLogger("django_sharegroups.instrumentation")

Listener = Callable[[str, dict[str, Any]], None]

__all__ = ["EVENTS", "EventBus", "UnknownEventError", "events"]


class UnknownEventError(ShareGroupsError):
    """An event name or payload that is not in the catalog (raised by strict buses only)."""


class _Route(NamedTuple):
    listeners: tuple[Listener, ...]
    #: A listener without ``active()``: the event is always wanted.
    always: bool
    checks: tuple[Callable[[], bool], ...]


class EventBus:
    #: Check every publish against the catalog (on in the test suite).
    strict: ClassVar[bool] = False

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        #: Per event, built on first use and dropped when subscriptions change: its listeners
        #: and ``*``'s, whether one of them always listens, the ``active`` checks of the others.
        #: Jobs publish three events each; rebuilding this per call was a tenth of a one-record
        #: job's CPU.
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()

    def subscribe(self, event: str, listener: Listener) -> None:
        """Call ``listener(event, payload)`` for ``event`` (``"*"`` = every event)."""
        if self.strict and event != "*" and event not in EVENTS:
            raise UnknownEventError(f"No event {event!r}; see docs/events.md.")
        with self._lock:
            self._listeners.setdefault(event, []).append(listener)
            self._routes = {}

    def unsubscribe(self, event: str, listener: Listener) -> None:
        with self._lock:
            self._listeners.get(event, []).remove(listener)
            self._routes = {}

    def _route(self, event: str) -> _Route:
        with self._lock:
            listeners = (*self._listeners.get(event, ()), *self._listeners.get("*", ()))
            checks = [getattr(listener, "active", None) for listener in listeners]
            route = _Route(
                listeners,
                any(check is None for check in checks),
                tuple(check for check in checks if check is not None),
            )
            self._routes[event] = route
            return route

    def listeners(self, event: str) -> tuple[Listener, ...]:
        """Who subscribed to ``event`` itself (``"*"``: to every event), for checks and tests."""
        with self._lock:
            return tuple(self._listeners.get(event, ()))

    def wants(self, event: str) -> bool:
        """Whether anything listens to ``event`` (so its payload is worth building). A
        listener with an ``active()`` method (e.g. DEBUG log lines) counts only while active."""
        route = self._routes.get(event) or self._route(event)
        if route.always:
            return True
        for active in route.checks:  # a loop, not any(): no generator per call
            if active():
                return True
        return False

    def publish(self, event: str, **payload: Any) -> None:
        if self.strict:
            _check(event, payload)
        route = self._routes.get(event) or self._route(event)
        for listener in route.listeners:
            try:
                listener(event, payload)
            except Exception:
                logger.exception("Event listener %r failed on %s", listener, event)


def _check(event: str, payload: dict[str, Any]) -> None:
    shape = EVENTS.get(event)
    if shape is None:
        raise UnknownEventError(f"Event {event!r} is not registered in instrumentation/catalog.py")
    expected = set(shape.__annotations__)
    if set(payload) != expected:
        raise UnknownEventError(
            f"Event {event!r} payload has {sorted(payload)}, the catalog says {sorted(expected)}"
        )


#: The process-wide bus.
events = EventBus()
