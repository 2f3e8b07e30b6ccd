"""Event listeners that feed the reporter; ``connect(bus)`` subscribes them.

``AppConfig.ready`` connects them to the process-wide bus, so ``runshareconsumers`` mirrors
according to ``SHAREGROUPS["MIRROR"]``. They run in the publishing thread (often a consumer
thread): they only hand small dicts to the reporter's bounded queues.
"""

from __future__ import annotations

import logging
from typing import Any

from ..instrumentation import EventBus
from .reporter import MirrorReporter

logger = logging.getLogger("django_sharegroups.mirroring")

#: Longest wait for the reporter's last writes when the process stops.
FINAL_FLUSH_TIMEOUT = 10.0


class MirrorListener:
    """Starts a reporter when a runner has started, stops it when the runner shuts down."""

    def __init__(self) -> None:
        self.reporter: MirrorReporter | None = None

    def subscriptions(self) -> dict[str, Any]:
        return {
            "process.started": self.process_started,
            "process.quiet": self.process_quiet,
            "process.shutdown": self.process_shutdown,
            "record.archived": self.record_archived,
            "dlq.dispatched": self.dlq_dispatched,
        }

    def process_started(self, event: str, payload: dict[str, Any]) -> None:
        runner = payload["runner"]
        settings = getattr(runner, "settings", None)
        if settings is None:
            from ..conf import get_settings

            settings = get_settings()
        if not settings.mirror.enabled:
            return
        if self.reporter is not None:  # a second runner on the same bus: keep the first
            logger.warning("A mirror reporter is already running; not mirroring %r", runner)
            return
        self.reporter = MirrorReporter(runner.listeners, settings.mirror)
        self.reporter.start()

    def process_quiet(self, event: str, payload: dict[str, Any]) -> None:
        if self.reporter is not None:
            self.reporter.status = "quiet"
            self.reporter.flush_soon()

    def process_shutdown(self, event: str, payload: dict[str, Any]) -> None:
        reporter, self.reporter = self.reporter, None
        if reporter is not None:
            reporter.stop(timeout=FINAL_FLUSH_TIMEOUT)

    def record_archived(self, event: str, payload: dict[str, Any]) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.record_archived(payload)

    def dlq_dispatched(self, event: str, payload: dict[str, Any]) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.record_dead_letter(payload)


def connect(bus: EventBus) -> MirrorListener:
    """Subscribe a new :class:`MirrorListener` to ``bus``; returns it (see ``disconnect``)."""
    listener = MirrorListener()
    for event, callback in listener.subscriptions().items():
        bus.subscribe(event, callback)
    return listener


def disconnect(bus: EventBus, listener: MirrorListener) -> None:
    for event, callback in listener.subscriptions().items():
        bus.unsubscribe(event, callback)
