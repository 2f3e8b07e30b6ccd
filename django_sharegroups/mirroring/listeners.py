"""Event listeners that feed the reporter; ``connect(bus)`` subscribes them.

``AppConfig.ready`` connects them to the process-wide bus, so ``runshareconsumers`` mirrors
according to ``SHAREGROUPS["MIRROR"]``. They run in the publishing thread (often a consumer
thread): they only hand small dicts to the reporter's bounded queues.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from ..instrumentation import EventBus
from .reporter import BoundedQueue, MirrorReporter

logger = logging.getLogger("django_sharegroups.mirroring")

#: Longest wait for the reporter's last writes when the process stops.
FINAL_FLUSH_TIMEOUT = 10.0
#: Records archived or dead-lettered while the runner is still starting, kept for the reporter.
EARLY_EVENTS = 10_000


class AcksCounter:
    """The ``acks.sent`` subscriber: active while a reporter keeps rollups, and while the
    runner is still starting (listeners consume before ``process.started``: those counts are
    kept for the reporter); otherwise the settler does not even build the counts
    (``EventBus.wants``)."""

    def __init__(self, listener: MirrorListener) -> None:
        self.listener = listener

    def active(self) -> bool:
        reporter = self.listener.reporter
        if reporter is not None:
            return reporter.mirror.rollups != "off"
        return self.listener.starting()

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        reporter = self.listener.reporter
        if reporter is not None:
            reporter.record_acks(payload["share_group"], payload["counts"])
        else:
            self.listener.early_acks(payload["share_group"], payload["counts"])


class MirrorListener:
    """Starts a reporter when a runner has started, stops it when the runner shuts down.

    A listener thread consumes as soon as it has joined, before ``process.started``: records
    it archives or dead-letters meanwhile are kept (from the first ``consumer.started``) and
    handed to the reporter once it exists.
    """

    def __init__(self) -> None:
        self.reporter: MirrorReporter | None = None
        self._early: BoundedQueue | None = None
        #: Acknowledgement counts per share group sent while the runner was starting.
        self._early_acks: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        #: The last ``record.archived`` payload per publishing thread (see record_undeserializable).
        self._last_archived = threading.local()
        self._acks = AcksCounter(self)

    def subscriptions(self) -> dict[str, Any]:
        return {
            "consumer.started": self.consumer_started,
            "process.started": self.process_started,
            "process.quiet": self.process_quiet,
            "process.shutdown": self.process_shutdown,
            "record.archived": self.record_archived,
            "dlq.dispatched": self.dlq_dispatched,
            "acks.sent": self._acks,
            "record.undeserializable": self.record_undeserializable,
        }

    def process_started(self, event: str, payload: dict[str, Any]) -> None:
        runner = payload["runner"]
        settings = getattr(runner, "settings", None)
        if settings is None:
            from ..conf import get_settings

            settings = get_settings()
        if self.reporter is not None:  # a second runner on the same bus: keep the first
            logger.warning("A mirror reporter is already running; not mirroring %r", runner)
            return
        with self._lock:
            early, self._early = self._early, None
            early_acks, self._early_acks = self._early_acks, {}
            if settings.mirror.enabled:
                self.reporter = MirrorReporter(runner.listeners, settings.mirror)
        if self.reporter is None:
            return
        for kind, event_payload in early.take() if early is not None else ():
            self._hand_over(self.reporter, kind, event_payload)
        for share_group, counts in early_acks.items():
            self.reporter.record_acks(share_group, dict(counts))
        self.reporter.start()

    def starting(self) -> bool:
        """Between the first ``consumer.started`` and ``process.started``."""
        return self.reporter is None and self._early is not None

    def early_acks(self, share_group: str, counts: dict[str, int]) -> None:
        """Keep the counts of acknowledgements sent before the reporter exists."""
        with self._lock:
            reporter = self.reporter
            if reporter is None:
                if self._early is not None:
                    self._early_acks.setdefault(share_group, Counter()).update(counts)
                return
        reporter.record_acks(share_group, counts)

    def consumer_started(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            if self.reporter is None and self._early is None:
                self._early = BoundedQueue(EARLY_EVENTS)

    def process_quiet(self, event: str, payload: dict[str, Any]) -> None:
        if self.reporter is not None:
            self.reporter.status = "quiet"
            self.reporter.flush_soon()

    def process_shutdown(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            reporter, self.reporter, self._early = self.reporter, None, None
            self._early_acks = {}
        if reporter is not None:
            reporter.stop(timeout=FINAL_FLUSH_TIMEOUT)

    def record_archived(self, event: str, payload: dict[str, Any]) -> None:
        self._last_archived.payload = payload
        self._record("archived", payload)

    def record_undeserializable(self, event: str, payload: dict[str, Any]) -> None:
        """The listener archives an undeserializable record first and then names the decoder's
        error in this event (same thread): mirror the archived row again, with that error."""
        archived = getattr(self._last_archived, "payload", None)
        self._last_archived.payload = None
        if archived is None or archived.get("error") or not payload.get("error"):
            return
        where = f"{archived['topic']}[{archived['partition']}]@{archived['offset']}"
        if archived["share_group"] == payload["share_group"] and where == payload["record"]:
            self._record("archived", {**archived, "error": payload["error"]})

    def dlq_dispatched(self, event: str, payload: dict[str, Any]) -> None:
        self._record("dead_letters", payload)

    def _record(self, kind: str, payload: dict[str, Any]) -> None:
        reporter = self.reporter
        if reporter is None:
            with self._lock:  # only while starting; the reporter may appear meanwhile
                reporter = self.reporter
                if reporter is None:
                    if self._early is not None:
                        self._early.put((kind, payload))
                    return
        self._hand_over(reporter, kind, payload)

    @staticmethod
    def _hand_over(reporter: MirrorReporter, kind: str, payload: dict[str, Any]) -> None:
        if kind == "archived":
            reporter.record_archived(payload)
        else:
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
