"""A share group route: the group name, its topics and how many consumer threads serve it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .registry import registry as default_registry
from .topic import Topic

#: Poll interval (milliseconds between polls) that each ``priority`` stands for.
PRIORITY_POLL_INTERVALS_MS = {"high": 0, "normal": 0, "low": 100, "background": 500}


@dataclass
class ShareGroup:
    """Routing of one share group. Built with :func:`share_group`; validated by system checks."""

    name: Any
    topics: list[Topic] = field(default_factory=list)
    concurrency: Any = 1
    workers_per_consumer: Any = 1
    poll_interval: Any = None
    throttle: Any = None
    priority: Any = "normal"
    client: Any = None
    kafka: dict[str, Any] = field(default_factory=dict)
    record_lock_duration_ms: Any = None
    delivery_count_limit: Any = None
    max_delayed_releases: Any = 1000
    #: The broker-side DLQ (KIP-1191): None = SHAREGROUPS["BROKER_DLQ"], False, True or a dict.
    dead_letter_queue: Any = None
    #: Where it was declared ("myapp.consumers"), so check messages can point at it.
    declared_in: str | None = None

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]

    @property
    def poll_interval_ms(self) -> int:
        """Explicit ``poll_interval`` wins; otherwise the interval of the ``priority``."""
        if self.poll_interval is not None:
            return int(self.poll_interval)
        return PRIORITY_POLL_INTERVALS_MS.get(self.priority, 0)

    def topic(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        raise KeyError(name)


def share_group(
    name: str,
    *,
    topics: list[Topic],
    concurrency: int = 1,
    workers_per_consumer: int = 1,
    poll_interval: int | None = None,
    throttle: dict[str, int] | None = None,
    priority: str = "normal",
    client: str | None = None,
    kafka: dict[str, Any] | None = None,
    record_lock_duration_ms: int | None = None,
    delivery_count_limit: int | None = None,
    max_delayed_releases: int = 1000,
    dead_letter_queue: dict[str, Any] | bool | None = None,
    registry=None,
) -> ShareGroup:
    """Declare a share group and register it (in the project-wide registry by default).

    ``concurrency`` is the number of share-consumer instances (one thread each) this process
    runs and ``workers_per_consumer`` the jobs each runs at once (1: the consumer thread itself
    processes). ``poll_interval`` (ms) or ``priority`` sets how eagerly they poll;
    ``throttle={"limit": N, "interval": ms}`` caps records per interval per instance.
    ``client`` picks a client adapter and ``kafka`` adds librdkafka keys for this group only.
    ``record_lock_duration_ms`` tells adapters that cannot ask the broker (``confluent``) the
    group's ``share.record.lock.duration.ms``, so leases that ran out are not processed;
    ``delivery_count_limit`` likewise ``share.delivery.count.limit`` (both are read from the
    broker at startup when possible). ``max_delayed_releases`` bounds the records one instance
    holds for delayed release; beyond it a delayed release becomes an immediate one.
    ``dead_letter_queue={"topic": "dlq.orders", "copy_record": True}`` (or True / False)
    configures the group's broker-side DLQ at startup; None follows SHAREGROUPS["BROKER_DLQ"].
    """
    group = ShareGroup(
        name=name,
        topics=list(topics),
        concurrency=concurrency,
        workers_per_consumer=workers_per_consumer,
        poll_interval=poll_interval,
        throttle=throttle,
        priority=priority,
        client=client,
        kafka=dict(kafka or {}),
        record_lock_duration_ms=record_lock_duration_ms,
        delivery_count_limit=delivery_count_limit,
        max_delayed_releases=max_delayed_releases,
        dead_letter_queue=dead_letter_queue,
        declared_in=(registry or default_registry).current_module,
    )
    (registry or default_registry).register(group)
    return group
