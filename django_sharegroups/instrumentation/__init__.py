"""Instrumentation: the event bus and its default logging listener."""

from .bus import EVENTS, EventBus, UnknownEventError, events

__all__ = ["EVENTS", "EventBus", "UnknownEventError", "events"]
