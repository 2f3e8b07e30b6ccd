"""The task every contender of ``benchmarks.tasks`` runs, and the clock that watches it."""

from __future__ import annotations

import threading
import time

from django_tasks import task


class Clock:
    """Counts runs and keeps the time of the first and the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.runs = 0
        self.first = self.last = 0.0

    def tick(self) -> None:
        now = time.perf_counter()
        with self.lock:
            if not self.runs:
                self.first = now
            self.runs += 1
            self.last = now


CLOCK = Clock()


@task(backend="sharegroups")
def noop() -> None:
    CLOCK.tick()
