"""Waiting between failed attempts, and saying so once.

A broker that is down must cost neither CPU nor log volume: every reconnect and retry waits an
exponentially growing, jittered delay (librdkafka's rule: the base doubles per consecutive
failure up to a maximum, each delay randomised by ±20 % so that many clients do not retry in
step), and an outage is logged as one *episode* — one warning when it starts, a reminder with
the count at most once a minute while it lasts, one line (INFO) with the count when it ends.
"""

from __future__ import annotations

import logging
import random
import threading
import time

#: Each delay is the exponential value times a factor drawn from [1 - JITTER, 1 + JITTER].
JITTER = 0.2
#: Seconds between reminders while a failure episode goes on.
REMINDER_INTERVAL = 60.0


class Backoff:
    """Exponential backoff with jitter: ``initial`` after the first failure, doubling up to
    ``maximum``; a success starts over."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = max(0.0, initial)
        self.maximum = max(self.initial, maximum)
        self.failures = 0
        self._not_before = 0.0

    def failed(self) -> float:
        """Count a failure; return the seconds to wait before the next attempt."""
        self.failures += 1
        exponent = min(self.failures - 1, 32)
        delay = min(self.maximum, self.initial * 2**exponent)
        delay *= random.uniform(1 - JITTER, 1 + JITTER)
        delay = min(delay, self.maximum)
        self._not_before = time.monotonic() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._not_before = 0.0

    def remaining(self) -> float:
        """Seconds until the next attempt is due (0 when it is)."""
        return max(0.0, self._not_before - time.monotonic())


class FailureEpisode:
    """Logs a run of consecutive failures of one thing as an episode, not per attempt."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failures = 0
        self._started = 0.0
        self._reminded = 0.0
        self._lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        return self.failures > 0

    def failed(self, error: object, retry_in: float | None = None) -> None:
        with self._lock:
            self.failures += 1
            now = time.monotonic()
            if self.failures == 1:
                self._started = self._reminded = now
                retry = "" if retry_in is None else f"; retrying in {retry_in:.2f}s with backoff"
                self.logger.warning("%s failed: %s%s", self.what, error, retry)
            elif now - self._reminded >= REMINDER_INTERVAL:
                self._reminded = now
                self.logger.warning(
                    "%s still failing: %d attempts in %.0fs, last: %s",
                    self.what,
                    self.failures,
                    now - self._started,
                    error,
                )
            else:
                self.logger.debug("%s failed again (%d): %s", self.what, self.failures, error)

    def succeeded(self) -> None:
        if not self.failures:
            return
        with self._lock:
            failures, self.failures = self.failures, 0
            self.logger.info(
                "%s works again after %d failed attempt(s) in %.1fs",
                self.what,
                failures,
                time.monotonic() - self._started,
            )
