"""The group's ``throttle``: at most ``limit`` records per ``interval`` per instance."""

from __future__ import annotations

import threading
import time

from ..instrumentation import EventBus
from ..routing.settings import ThrottleSettings


class Throttle:
    def __init__(self, settings: ThrottleSettings | None, share_group: str, bus: EventBus) -> None:
        self.settings = settings
        self.share_group = share_group
        self.bus = bus
        self._window_started = time.monotonic()
        self._window_records = 0

    def bound(self, capacity: int, stop_event: threading.Event) -> int:
        """``capacity`` cut to what the window has left; 0 after waiting out a full window."""
        if self.settings is None:
            return capacity
        interval = self.settings.interval_ms / 1000
        elapsed = time.monotonic() - self._window_started
        if elapsed >= interval:
            self._window_started, self._window_records = time.monotonic(), 0
        left = self.settings.limit - self._window_records
        if left <= 0:
            self.bus.publish("throttled", share_group=self.share_group)
            stop_event.wait(max(0.0, interval - elapsed))
            return 0
        return min(capacity, left)

    def took(self, records: int) -> None:
        self._window_records += records
