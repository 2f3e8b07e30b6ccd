"""Counts what a contender consumed and writes it where the harness reads it.

Every contender — the hand-written loops and the consumers run by ``runshareconsumers`` — uses
this one class, so all are timed the same way: from the first record in hand to the record that
reached the target (or the end of the time budget), CPU time of the whole process included.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path


class Tally:
    """Thread-safe counter of consumed records; writes its result file once."""

    def __init__(
        self,
        path: str,
        target: int,
        budget: float,
        latency: bool = False,
        completions: bool = False,
    ) -> None:
        self.path = Path(path)
        self.target = target
        self.budget = budget
        self.latency = latency
        self.count = 0
        self.first: float | None = None
        self.cpu_first = 0.0
        #: (wall-clock time consumed, produce→consume seconds) per stream record
        self.samples: list[tuple[float, float]] = []
        #: seconds since the first record at which each add() came (``completions`` runs: the
        #: steady rate leaves out the ramp-up and the drain at the end)
        self.completions: list[float] | None = [] if completions else None
        self.written = False
        self._lock = threading.Lock()

    @property
    def started_marker(self) -> Path:
        return self.path.with_suffix(".started")

    def begin(self) -> None:
        """Records are in hand (a poll returned, a job starts): the clock starts at the first."""
        if self.first is None:
            with self._lock:
                self._begin(time.monotonic())

    def _begin(self, now: float) -> None:
        if self.first is None:
            self.first, self.cpu_first = now, time.process_time()
            self.started_marker.touch()

    def add(self, count: int, stamps: list[float] | None = None) -> None:
        """``count`` records were consumed; ``stamps``: their produce times (live runs)."""
        now = time.monotonic()
        with self._lock:
            self._begin(now)
            self.count += count
            if self.completions is not None:
                self.completions.extend([now - self.first] * count)
            if stamps:
                wall = time.time()
                self.samples.extend((wall, wall - stamp) for stamp in stamps)
            if not self.written and (self.count >= self.target or now - self.first >= self.budget):
                self._write(now)

    @property
    def done(self) -> bool:
        return self.written

    def finish(self) -> None:
        """Write what was counted so far (the process is stopping)."""
        with self._lock:
            if not self.written:
                self._write(time.monotonic())

    def _write(self, now: float) -> None:
        self.written = True
        result = {
            "count": self.count,
            "first": self.first,
            "seconds": (now - self.first) if self.first is not None else None,
            "cpu": (time.process_time() - self.cpu_first) if self.first is not None else None,
            "samples": self.samples,
            "completions": self.completions,
        }
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(result))
        os.replace(partial, self.path)
