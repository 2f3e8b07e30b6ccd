"""Mirror the broker DLQ topics into DeadLetter rows, in a thread of ``runshareconsumers``.

Off the hot path: one plain Kafka consumer per process in a consumer group of its own
(``BROKER_DLQ["watcher_group"]``), so several processes split the DLQ partitions and each DLQ
record is mirrored once; offsets are committed only after the rows are saved (a crash re-reads
a few records, and saving is idempotent). It runs inside ``runshareconsumers`` because that
process knows which DLQ topics it configured and already holds the database settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from django.db import connections

from ..instrumentation import EventBus
from .records import dead_letter_row, save_rows
from .settings import BrokerDLQSettings

logger = logging.getLogger("django_sharegroups.broker_dlq")

BATCH = 500
#: Seconds between attempts to save a batch the database refused.
RETRY_INTERVAL = 2.0


class BrokerDLQWatcher(threading.Thread):
    def __init__(
        self,
        topics: list[str],
        kafka: Mapping[str, Any],
        settings: BrokerDLQSettings,
        payload_limit: int,
        poll_timeout: float = 0.5,
    ) -> None:
        super().__init__(name="sharegroups:dlq-watcher", daemon=True)
        self.topics = sorted(set(topics))
        self.kafka = dict(kafka)
        self.settings = settings
        self.payload_limit = payload_limit
        self.poll_timeout = poll_timeout
        self.stopping = threading.Event()
        self.mirrored = 0

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.join(timeout)

    def run(self) -> None:
        from confluent_kafka import Consumer

        from ..clients.confluent import librdkafka_logger

        consumer = Consumer(
            {
                **self.kafka,
                "group.id": self.settings.watcher_group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # A killed process's partitions move to the others within seconds.
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
                "logger": librdkafka_logger,
            }
        )
        try:
            consumer.subscribe(self.topics)
            while not self.stopping.is_set():
                records = consumer.consume(BATCH, timeout=self.poll_timeout)
                good = [r for r in records if r.error() is None]
                for record in records:
                    if record.error() is not None:
                        logger.warning("DLQ watcher: %s", record.error())
                rows = [dead_letter_row(r, self.payload_limit) for r in good]
                if good and self._save([row for row in rows if row is not None]):
                    consumer.commit(asynchronous=False)
        except Exception:
            logger.exception("The broker DLQ watcher stopped; DLQ records are not mirrored")
        finally:
            consumer.close()
            connections.close_all()

    def _save(self, rows: list) -> bool:
        """Save until it works or the process stops (then the offsets stay uncommitted)."""
        while True:
            try:
                self.mirrored += save_rows(rows)
                return True
            except Exception as error:  # database down: keep the batch, try again
                logger.warning("DLQ watcher could not save %d row(s): %s", len(rows), error)
                connections.close_all()
                if self.stopping.wait(RETRY_INTERVAL):
                    return False


class WatcherListener:
    """Starts a watcher when a runner that configured broker DLQs has started; stops it with
    the runner (``process.started`` / ``process.shutdown`` on the event bus)."""

    def __init__(self) -> None:
        self.watcher: BrokerDLQWatcher | None = None

    def subscriptions(self) -> dict[str, Any]:
        return {"process.started": self.process_started, "process.shutdown": self.process_shutdown}

    def process_started(self, event: str, payload: dict[str, Any]) -> None:
        runner = payload["runner"]
        topics = getattr(runner, "broker_dead_letter_topics", None)
        settings = getattr(runner, "settings", None)
        if not topics or settings is None or not settings.broker_dlq.watch or self.watcher:
            return
        self.watcher = BrokerDLQWatcher(
            list(topics.values()),
            settings.kafka,
            settings.broker_dlq,
            settings.mirror.payload_limit,
        )
        self.watcher.start()

    def process_shutdown(self, event: str, payload: dict[str, Any]) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()


def connect(bus: EventBus) -> WatcherListener:
    listener = WatcherListener()
    for event, callback in listener.subscriptions().items():
        bus.subscribe(event, callback)
    return listener
