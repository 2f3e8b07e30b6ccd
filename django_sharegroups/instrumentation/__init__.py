"""Instrumentation: the event bus and its default logging listener."""

from .bus import EVENTS, EventBus, events

__all__ = ["EVENTS", "EventBus", "events"]
