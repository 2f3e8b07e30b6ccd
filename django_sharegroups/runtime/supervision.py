"""Supervision of a process's listeners: restart the ones that died, notice a dead group.

A listener settles what user code raises on and goes on, so one that dies hit something
unexpected (``SystemExit`` from user code, a bug). It is restarted after an exponential
backoff (1 s, 2 s, 4 s, ... up to a minute; back to 1 s once a restarted listener has run for
a minute). When none of a group's listeners has been live for ``GROUP_DOWN_TIMEOUT`` seconds,
the process gives up: it stops and exits with :data:`EXIT_GROUP_DOWN`, naming the group and
the cause, so an orchestrator can restart or alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..instrumentation import EventBus
from .listener import ShareGroupListener

logger = logging.getLogger("django_sharegroups.runtime")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
#: How often the supervisor looks at its listeners (seconds).
TICK = 0.25


@dataclass(frozen=True, slots=True)
class GroupDown:
    share_group: str
    seconds: float
    cause: str

    def __str__(self) -> str:
        return (
            f"share group {self.share_group!r} has had no live instance for "
            f"{self.seconds:.0f} s: {self.cause}"
        )


class ListenerSupervisor:
    """Watches ``listeners`` (the runner's list, changed in place) from its own thread."""

    def __init__(
        self,
        listeners: list[ShareGroupListener],
        restart: Callable[[ShareGroupListener], ShareGroupListener],
        *,
        bus: EventBus,
        stop_event: threading.Event,
        group_down_timeout: float,
        on_group_down: Callable[[GroupDown], None],
    ) -> None:
        self.listeners = listeners
        self.restart = restart
        self.bus = bus
        self.stop_event = stop_event
        self.group_down_timeout = group_down_timeout
        self.on_group_down = on_group_down
        #: Listeners that died since the process started (restarted or not).
        self.deaths = 0
        self.restarts = 0
        self._attempts: dict[int, int] = {}
        self._restart_at: dict[int, float] = {}
        self._started_at: dict[int, float] = {}
        self._down_since: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="sharegroups:supervisor", daemon=True
        )

    def start(self) -> None:
        now = time.monotonic()
        for slot in range(len(self.listeners)):
            self._started_at[slot] = now
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(TICK):
            if self.stop_event.is_set():
                continue
            try:
                self.tick(time.monotonic())
            except Exception:  # the supervisor must outlive any surprise
                logger.exception("Supervising the listeners failed")

    def tick(self, now: float) -> None:
        for slot, listener in enumerate(self.listeners):
            if listener.ident is None or listener.is_alive():
                continue
            self._dead(slot, listener, now)
        self._check_groups(now)

    def _dead(self, slot: int, listener: ShareGroupListener, now: float) -> None:
        if slot not in self._restart_at:
            self.deaths += 1
            if now - self._started_at.get(slot, now) >= BACKOFF_MAX:
                self._attempts[slot] = 0
            attempt = self._attempts.get(slot, 0)
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt)
            self._attempts[slot] = attempt + 1
            self._restart_at[slot] = now + backoff
            logger.error(
                "%s died (%s); restarting it in %.0f s",
                listener.name,
                listener.failure_reason or "ended unexpectedly",
                backoff,
            )
            return
        if now < self._restart_at[slot]:
            return
        del self._restart_at[slot]
        replacement = self.restart(listener)
        self.listeners[slot] = replacement
        self._started_at[slot] = now
        self.restarts += 1
        replacement.start()
        self.bus.publish(
            "consumer.restarted",
            share_group=listener.share_group.name,
            index=listener.index,
            attempt=self._attempts[slot],
            cause=listener.failure_reason or "ended unexpectedly",
        )

    def _check_groups(self, now: float) -> None:
        by_group: dict[str, list[ShareGroupListener]] = {}
        for listener in self.listeners:
            by_group.setdefault(listener.share_group.name, []).append(listener)
        for group, listeners in by_group.items():
            if any(listener.live for listener in listeners):
                self._down_since.pop(group, None)
                continue
            since = self._down_since.setdefault(group, now)
            if now - since >= self.group_down_timeout:
                causes = sorted({x.failure_reason for x in listeners if x.failure_reason})
                down = GroupDown(group, now - since, "; ".join(causes) or "no instance running")
                self._done.set()
                self.on_group_down(down)
                return
