"""Clocks for the in-memory broker: real time in production, hand-moved time in tests.

The broker reads time only through a ``Clock``: acquisition-lock deadlines, member session
timeouts and record timestamps. With a ``ManualClock`` nothing expires until a test calls
``advance``, so lock-expiry tests run instantly and always the same way.
"""

from __future__ import annotations

import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "SystemClock"]

#: 2023-11-14T22:13:20Z: a fixed, realistic start so timestamps in tests are reproducible.
DEFAULT_MANUAL_START_MS = 1_700_000_000_000


class Clock(ABC):
    """Milliseconds since the epoch, plus how the broker learns that time moved."""

    @abstractmethod
    def now_ms(self) -> int:
        """The current time in milliseconds since the epoch."""

    @abstractmethod
    def real_seconds_until(self, instant_ms: int) -> float | None:
        """Real seconds until ``instant_ms`` arrives on its own; ``None`` if it never will.

        A waiting poll uses this to wake up when the next acquisition lock expires.
        """

    def on_advance(self, callback: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Call ``callback`` whenever time is moved by hand (a no-op for real time)."""


class SystemClock(Clock):
    """Wall-clock time."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def real_seconds_until(self, instant_ms: int) -> float | None:
        return max(0.0, (instant_ms - self.now_ms()) / 1000)


class ManualClock(Clock):
    """Time that stands still until ``advance`` moves it; thread-safe.

    Brokers that use this clock re-check acquisition locks and session timeouts on every
    ``advance`` and wake up waiting polls.
    """

    def __init__(self, start_ms: int = DEFAULT_MANUAL_START_MS) -> None:
        self._now_ms = start_ms
        self._lock = threading.Lock()
        self._callbacks: list[weakref.WeakMethod | Callable[[], None]] = []

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def real_seconds_until(self, instant_ms: int) -> float | None:
        return 0.0 if instant_ms <= self.now_ms() else None

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> int:
        """Move time forward by ``seconds`` (and/or ``ms``); return the new time in ms."""
        step = round(seconds * 1000) + ms
        if step < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now_ms += step
            now = self._now_ms
            callbacks = list(self._callbacks)
        for entry in callbacks:
            callback = entry() if isinstance(entry, weakref.WeakMethod) else entry
            if callback is not None:
                callback()
        return now

    def on_advance(self, callback: Callable[[], None]) -> None:
        # Bound methods are held weakly so a clock shared by many test brokers does not keep
        # every one of them alive.
        entry = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback
        with self._lock:
            self._callbacks = [c for c in self._callbacks if _alive(c)] + [entry]


def _alive(entry: weakref.WeakMethod | Callable[[], None]) -> bool:
    return not isinstance(entry, weakref.WeakMethod) or entry() is not None
