"""The periodic summary: one INFO line per share group every ``SUMMARY_INTERVAL`` seconds.

Operators read rates and outcomes from it instead of a line per record. It reads the event
counts (counts.py) that the Prometheus exporter reads too, and logs what changed since the last
line; a daemon thread writes the lines, and ``process.shutdown`` writes the last, partial one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .bus import EventBus, events
from .counts import EventCounts

logger = logging.getLogger("django_sharegroups.summary")

#: The line's words → the counts they add up, shown in this order on every line.
FIELDS = {
    "accepted": ("records_accepted",),
    "released": ("records_released",),
    "rejected": ("records_rejected",),
    "archived": ("records_archived",),
    "dead-lettered": ("records_dead_lettered",),
    "lock expiries": ("lock_expiries",),
    "errors": ("job_errors", "consumer_errors", "acknowledgement_failures"),
}
WORDS = {"records_received": "received"} | {
    name: word for word, names in FIELDS.items() for name in names
}


class SummaryLogger:
    """Logs one line per group each ``interval`` seconds from ``counts``."""

    def __init__(self, counts: EventCounts, interval: float, groups: Iterable[str] = ()) -> None:
        self.counts = counts
        self.interval = interval
        self.groups = list(groups)
        self._before: dict[str, Counter[str]] = {}
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _totals(self) -> dict[str, Counter[str]]:
        totals: dict[str, Counter[str]] = {}
        for (name, labels), value in self.counts.snapshot().items():
            word = WORDS.get(name)
            if word is not None:
                totals.setdefault(labels[0], Counter())[word] += value
        return totals

    def flush(self) -> list[str]:
        """Log (and return) the lines of the window that ends now; start a new window."""
        with self._lock:
            now, totals = time.monotonic(), self._totals()
            before, self._before = self._before, totals
            seconds, self._since = max(now - self._since, 1e-9), now
        lines = []
        for group in dict.fromkeys([*self.groups, *totals]):
            counts = Counter(totals.get(group, {}))  # a copy: totals are the next window's base
            counts.subtract(before.get(group, Counter()))
            rate = counts["received"] / seconds
            parts = ", ".join(f"{word} {counts[word]}" for word in FIELDS)
            lines.append(
                f"{group}: {counts['received']} received ({rate:.1f}/s), {parts} "
                f"in the last {seconds:.0f} s"
            )
        for line in lines:
            logger.info("%s", line)
        return lines

    def start(self, bus: EventBus = events) -> None:
        bus.subscribe("process.shutdown", self._shutdown)
        threading.Thread(target=self._run, name="sharegroups-summary", daemon=True).start()

    def _shutdown(self, event: str, payload: dict[str, Any]) -> None:
        self.stop()

    def stop(self) -> None:
        """Write the last window once; the thread ends."""
        if not self._stop.is_set():
            self._stop.set()
            self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
