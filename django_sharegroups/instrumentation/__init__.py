"""Instrumentation: the event bus and its default logging listener."""

from .events import EVENTS, EventBus, events

__all__ = ["EVENTS", "EventBus", "events"]
