"""Task functions the tests enqueue; every run is written to ``RUNS`` (this process only)."""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict

from django_tasks import task


class Runs:
    """Thread-safe ``key → [time.time() of each run]``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)

    def add(self, key: str) -> None:
        with self.lock:
            self.times[key].append(time.time())

    def of(self, key: str) -> list[float]:
        with self.lock:
            return list(self.times.get(key, ()))

    def snapshot(self) -> dict[str, list[float]]:
        with self.lock:
            return {key: list(times) for key, times in self.times.items()}

    def clear(self) -> None:
        with self.lock:
            self.times.clear()


RUNS = Runs()


@task
def record(key: str) -> str:
    RUNS.add(key)
    return key


@task
def fail(key: str) -> None:
    RUNS.add(key)
    raise ValueError(f"task {key} always fails")


@task
def exits(key: str) -> None:
    RUNS.add(key)
    sys.exit(3)


@task(takes_context=True)
def attempt_number(context, key: str) -> int:
    RUNS.add(key)
    if context.attempt < 2:
        raise RuntimeError("fails on its first run")
    return context.attempt


@task
async def add(a: int, b: int) -> int:
    return a + b


@task
def noop() -> None:
    return None
