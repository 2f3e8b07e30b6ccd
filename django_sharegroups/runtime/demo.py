"""``runshareconsumers --demo``: feed the in-memory broker sample records and narrate it.

The project names a callable in ``SHAREGROUPS["DEMO_RECORDS"]``; it is called with a round
number (0, 1, 2, ...) every ``DEMO_INTERVAL`` seconds and returns ``(topic, payload, key)``
tuples. The logging listener narrates what happens to each record, so a newcomer sees the
whole share-group life cycle with no infrastructure. ``--records N`` stops producing after N
records and ``--exit-when-done`` ends the process once the groups have settled them all, for
scripted runs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from ..clients.memory import MemoryBroker, default_broker
from ..exceptions import ConfigurationError
from ..routing import ShareGroup

if TYPE_CHECKING:
    from .runner import ShareConsumerRunner

logger = logging.getLogger("django_sharegroups.demo")

DemoRecords = Callable[[int], Iterable[tuple[str, Any, str | None]]]

#: Kafka's default delivery-count limit is 5; the demo uses 3 so that a record that keeps
#: failing is archived within seconds instead of after five rounds of redelivery.
DEMO_DELIVERY_COUNT_LIMIT = 3
#: Group configs that make the life cycle visible within seconds.
DEMO_GROUP_CONFIG = {
    "share.auto.offset.reset": "earliest",
    "share.delivery.count.limit": DEMO_DELIVERY_COUNT_LIMIT,
}
DEMO_PARTITIONS = 3
DEMO_INTERVAL = 5.0
#: How often ``--exit-when-done`` checks whether the groups have settled every record.
SETTLED_CHECK_INTERVAL = 0.1

WHAT_TO_LOOK_AT = (
    "demo: %s on the in-memory broker, delivery-count limit %d (Kafka's default is 5; "
    "lowered so a record that keeps failing is archived within seconds)",
    "demo: archived records and consumer processes are mirrored to the database: run "
    "`python manage.py createsuperuser` and `python manage.py runserver`, then open "
    "http://127.0.0.1:8000/admin/django_sharegroups/",
    "demo: Ctrl-C stops gracefully",
)


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
        *,
        limit: int | None = None,
        when_done: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="sharegroups:demo", daemon=True)
        self.broker = broker or default_broker()
        self.share_groups = list(share_groups)
        self.records = records
        self.stop_event = stop_event
        self.interval = interval
        self.limit = limit
        self.when_done = when_done
        self.produced = 0
        for group in share_groups:
            for topic_name in group.topic_names:
                if topic_name not in self.broker.topics():
                    self.broker.create_topic(topic_name, DEMO_PARTITIONS)
            self.broker.alter_group_config(group.name, DEMO_GROUP_CONFIG)

    def run(self) -> None:
        round_number = 0
        while not self.stop_event.is_set() and not self._produced_enough():
            produced = self._produce_round(round_number)
            logger.info("demo: round %d produced %d record(s)", round_number, produced)
            round_number += 1
            if not self._produced_enough():
                self.stop_event.wait(self.interval)
        if self.when_done is not None:
            self._wait_until_settled()

    def _produced_enough(self) -> bool:
        return self.limit is not None and self.produced >= self.limit

    def _produce_round(self, round_number: int) -> int:
        produced = 0
        for topic_name, payload, key in self.records(round_number):
            if self._produced_enough():
                break
            self.broker.produce(topic_name, json.dumps(payload).encode(), key=key)
            self.produced += 1
            produced += 1
        return produced

    def _wait_until_settled(self) -> None:
        while not self.stop_event.wait(SETTLED_CHECK_INTERVAL):
            if all(self.broker.is_settled(g.name, g.topic_names) for g in self.share_groups):
                logger.info("demo: all %d record(s) settled; stopping", self.produced)
                assert self.when_done is not None
                self.when_done()
                return


def start_demo(
    runner: ShareConsumerRunner, *, records: int | None = None, exit_when_done: bool = False
) -> DemoFeeder:
    """Start feeding the runner's groups; they must all run on the ``memory`` adapter."""
    settings = runner.settings
    not_memory = [g.name for g in runner.share_groups if (g.client or settings.client) != "memory"]
    if not_memory:
        raise ConfigurationError(
            f"--demo runs on the in-memory broker, but {', '.join(not_memory)} use(s) "
            f"'{settings.client}'. Unset KAFKA_BOOTSTRAP_SERVERS (or set the client to memory)."
        )
    if exit_when_done and records is None:
        raise ConfigurationError("--exit-when-done needs --records N (the demo never ends).")
    feeder = DemoFeeder(
        runner.share_groups,
        load_demo_records(settings.demo_records),
        runner.stop_event,
        limit=records,
        when_done=runner.stop if exit_when_done else None,
    )
    names = ", ".join(g.name for g in runner.share_groups)
    introduction, admin, stopping = WHAT_TO_LOOK_AT
    logger.info(introduction, names, DEMO_DELIVERY_COUNT_LIMIT)
    logger.info(admin)
    if not exit_when_done:
        logger.info(stopping)
    feeder.start()
    return feeder
