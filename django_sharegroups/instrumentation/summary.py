"""The periodic summary: one INFO line per share group every ``SUMMARY_INTERVAL`` seconds.

Operators read rates and outcomes from it instead of a line per record. Counts come from the
events below (per poll, per job, per acknowledgement batch), summed under a lock; a daemon
thread writes the lines, and ``process.shutdown`` writes the last, partial window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from .bus import EventBus, events

logger = logging.getLogger("django_sharegroups.summary")

Counts = Iterable[tuple[str, int]]

#: acks.sent count keys → the summary's words.
SETTLED = {"ACCEPT": "accepted", "RELEASE": "released", "REJECT": "rejected"}

#: Event → the counts it adds to its group's window.
TALLIES: dict[str, Callable[[dict[str, Any]], Counts]] = {
    "poll": lambda p: (("received", p["records"]),),
    "acks.sent": lambda p: ((SETTLED[k], n) for k, n in p["counts"].items() if k in SETTLED),
    "record.archived": lambda p: (("archived", 1),),
    "dlq.dispatched": lambda p: (("dead-lettered", 1),),
    "lock.expired": lambda p: (("lock expiries", 1),),
    "job.errored": lambda p: (("errors", 1),),
    "consumer.error": lambda p: (("errors", 1),),
    "acks.failed": lambda p: (("errors", 1),),
}
#: Shown in this order, every line, so lines compare at a glance.
FIELDS = (
    "accepted",
    "released",
    "rejected",
    "archived",
    "dead-lettered",
    "lock expiries",
    "errors",
)


class SummaryLogger:
    """Counts events per group and logs one line per group each ``interval`` seconds."""

    def __init__(self, interval: float, groups: Iterable[str] = ()) -> None:
        self.interval = interval
        self.groups = list(groups)
        self._counts: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self._since = time.monotonic()
        self._stop = threading.Event()

    def count(self, event: str, payload: dict[str, Any]) -> None:
        tally = TALLIES[event](payload)
        with self._lock:
            counts = self._counts.setdefault(payload["share_group"], Counter())
            for key, n in tally:
                counts[key] += n

    def flush(self) -> list[str]:
        """Log (and return) the lines of the window that ends now; start a new window."""
        now = time.monotonic()
        with self._lock:
            window, self._counts = self._counts, {}
            seconds, self._since = max(now - self._since, 1e-9), now
        lines = []
        for group in dict.fromkeys([*self.groups, *window]):
            counts = window.get(group, Counter())
            rate = counts["received"] / seconds
            parts = ", ".join(f"{field} {counts[field]}" for field in FIELDS)
            lines.append(
                f"{group}: {counts['received']} received ({rate:.1f}/s), {parts} "
                f"in the last {seconds:.0f} s"
            )
        for line in lines:
            logger.info("%s", line)
        return lines

    def subscribe(self, bus: EventBus = events) -> None:
        for event in TALLIES:
            bus.subscribe(event, self.count)
        bus.subscribe("process.shutdown", lambda event, payload: self.stop())

    def start(self, bus: EventBus = events) -> None:
        self.subscribe(bus)
        threading.Thread(target=self._run, name="sharegroups-summary", daemon=True).start()

    def stop(self) -> None:
        """Write the last window once; the thread ends."""
        if not self._stop.is_set():
            self._stop.set()
            self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
