"""``runshareconsumers --demo``: feed the in-memory broker sample records and narrate it.

The project names a callable in ``SHAREGROUPS["DEMO_RECORDS"]``; it is called with a round
number (0, 1, 2, ...) every ``DEMO_INTERVAL`` seconds and returns ``(topic, payload, key)``
tuples. The broker's archive decisions (rejected, delivery limit reached) are logged, so a
newcomer sees the whole share-group life cycle with no infrastructure.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.utils.module_loading import import_string

from ..clients.memory import BrokerEvent, EventKind, MemoryBroker, default_broker
from ..exceptions import ConfigurationError
from ..routing import ShareGroup

logger = logging.getLogger("django_sharegroups.demo")

DemoRecords = Callable[[int], Iterable[tuple[str, Any, str | None]]]

#: Group configs that make the life cycle visible within seconds.
DEMO_GROUP_CONFIG = {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": 3}
DEMO_PARTITIONS = 3
DEMO_INTERVAL = 5.0


def load_demo_records(path: str | None) -> DemoRecords:
    if not path:
        raise ConfigurationError(
            "--demo needs SHAREGROUPS['DEMO_RECORDS']: the dotted path of a callable that "
            "takes a round number and returns (topic, payload, key) tuples."
        )
    return import_string(path)


class DemoFeeder(threading.Thread):
    """Prepares the broker for the selected groups and produces a round of records at a time."""

    def __init__(
        self,
        share_groups: Sequence[ShareGroup],
        records: DemoRecords,
        stop_event: threading.Event,
        broker: MemoryBroker | None = None,
        interval: float = DEMO_INTERVAL,
    ) -> None:
        super().__init__(name="sharegroups:demo", daemon=True)
        self.broker = broker or default_broker()
        self.records = records
        self.stop_event = stop_event
        self.interval = interval
        for group in share_groups:
            for topic_name in group.topic_names:
                if topic_name not in self.broker.topics():
                    self.broker.create_topic(topic_name, DEMO_PARTITIONS)
            self.broker.alter_group_config(group.name, DEMO_GROUP_CONFIG)
        self.broker.add_listener(self._narrate)

    def run(self) -> None:
        round_number = 0
        while not self.stop_event.is_set():
            produced = 0
            for topic_name, payload, key in self.records(round_number):
                self.broker.produce(topic_name, json.dumps(payload).encode(), key=key)
                produced += 1
            logger.info("demo: round %d produced %d record(s)", round_number, produced)
            round_number += 1
            self.stop_event.wait(self.interval)

    def _narrate(self, event: BrokerEvent) -> None:
        if event.kind == EventKind.ARCHIVED:
            logger.info(
                "broker archived %s[%s]@%s of share group %s after %s delivery(ies): %s",
                event.topic,
                event.partition,
                event.offset,
                event.group_id,
                event.delivery_count,
                event.reason,
            )


def start_demo(runner) -> DemoFeeder:
    """Start feeding the runner's groups; they must all run on the ``memory`` adapter."""
    settings = runner.settings
    not_memory = [g.name for g in runner.share_groups if (g.client or settings.client) != "memory"]
    if not_memory:
        raise ConfigurationError(
            f"--demo runs on the in-memory broker, but {', '.join(not_memory)} use(s) "
            f"'{settings.client}'. Unset KAFKA_BOOTSTRAP_SERVERS (or set the client to memory)."
        )
    feeder = DemoFeeder(
        runner.share_groups, load_demo_records(settings.demo_records), runner.stop_event
    )
    feeder.start()
    return feeder
