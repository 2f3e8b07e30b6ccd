"""The test helpers, one of each: declare a group, produce, run groups, wait for a condition.

Fixtures live in the conftests (tests/conftest.py: the services); everything a test calls
lives here. Brokers are either a ``MemoryBroker`` or the bootstrap address of real Kafka.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pytest

from django_sharegroups import share_group, topic
from django_sharegroups.clients.memory import MemoryBroker, MemoryClientFactory
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus, events
from django_sharegroups.instrumentation.logging_listener import log_event
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.runtime.runner import ShareConsumerRunner


def declare(name: str, consumer, *, topic_options=None, **group_options):
    """A share group named like its one topic, kept out of the project's registry."""
    return share_group(
        name,
        topics=[topic(name, consumer=consumer, **(topic_options or {}))],
        registry=RouteRegistry(),
        **group_options,
    )


def prepare(broker: MemoryBroker, name: str, partitions: int = 1, **configs: Any) -> None:
    """Topic ``name`` on the memory broker and a share group of the same name reading it from
    the earliest offset (Kafka's default is latest); ``configs`` are more group configs."""
    broker.create_topic(name, partitions)
    broker.alter_group_config(name, {"share.auto.offset.reset": "earliest", **configs})


def produce(
    broker: MemoryBroker | str,
    topic_name: str,
    payloads: Iterable[Any],
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
    one_batch: bool = False,
) -> None:
    """Produce each payload as JSON (bytes as they are) to the memory broker or real Kafka,
    to ``partition`` or where the partitioner puts them.

    On Kafka the call waits until every record is stored; ``one_batch=True`` puts them in one
    producer batch whatever the machine's load (Kafka acquires whole batches)."""
    values = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in payloads]
    where = {} if partition is None else {"partition": partition}
    if isinstance(broker, MemoryBroker):
        for value in values:
            broker.produce(topic_name, value, key=key, headers=headers, **where)
        return
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker, "linger.ms": 10_000 if one_batch else 5})
    producer.list_topics(topic_name, timeout=10)  # no record waits for metadata alone
    for value in values:
        producer.produce(topic_name, value, key=key, headers=headers, **where)
    assert producer.flush(30) == 0, "records were not delivered within 30 s"


def events_of(bus: EventBus, name: str) -> list[dict]:
    """The payloads of every ``name`` event ``bus`` publishes from now on."""
    captured: list[dict] = []
    bus.subscribe(name, lambda event, payload: captured.append(payload))
    return captured


def poll_stamps(bus: EventBus) -> list[tuple[float, str, int]]:
    """``(monotonic time, share group, records)`` of every poll. The bus calls listeners in
    the polling thread, so a stamp is taken after its poll and before the next poll starts:
    gaps between stamps are lower bounds that hold however loaded the machine is."""
    stamps: list[tuple[float, str, int]] = []
    bus.subscribe(
        "poll", lambda e, p: stamps.append((time.monotonic(), p["share_group"], p["records"]))
    )
    return stamps


@contextlib.contextmanager
def running(
    groups,
    broker: MemoryBroker | str,
    bus: EventBus | None = None,
    *,
    expect_exit: int = 0,
    factories: dict | None = None,
    **settings: Any,
) -> Iterator[ShareConsumerRunner]:
    """Run ``groups`` in this process for the block, then shut down and check the exit code.

    ``broker``: a ``MemoryBroker`` (adapter ``memory``, 50 ms polls) or real Kafka's bootstrap
    address (adapter ``confluent`` unless ``client=`` says otherwise). ``settings`` override
    ``ShareGroupsSettings``. ``bus`` defaults to a new one on memory and to the process-wide one
    (where the app's logging listener is subscribed) on Kafka; on a bus other than the
    process-wide one, every event is also formatted by the logging listener, which must not
    fail on any payload the runtime publishes."""
    if bus is None:  # a bus of its own on memory; on Kafka the process-wide one, as in production
        bus = EventBus() if isinstance(broker, MemoryBroker) else events
    if isinstance(broker, MemoryBroker):
        settings = {"client": "memory", "poll_timeout": 0.05, **settings}
        factories = {"memory": MemoryClientFactory(broker), **(factories or {})}
    else:
        settings = {"client": "confluent", "poll_timeout": 0.2, **settings}
        settings["kafka"] = {"bootstrap.servers": broker, **settings.get("kafka", {})}
    settings.setdefault("shutdown_timeout", 20)
    listener_failures: list[BaseException] = []

    def strict_log(event: str, payload: dict) -> None:
        try:
            log_event(event, payload)
        except Exception as exc:  # noqa: BLE001 - collected, then fails the test
            listener_failures.append(exc)

    strict = bus is not events
    if strict:
        bus.subscribe("*", strict_log)
    runner = ShareConsumerRunner(
        groups, settings=ShareGroupsSettings(**settings), factories=factories, bus=bus
    )
    try:
        runner.start()
        try:
            yield runner
        finally:
            exit_code = runner.shutdown()
        assert exit_code == expect_exit, f"runner stopped with exit code {exit_code}"
    finally:
        if strict:
            bus.unsubscribe("*", strict_log)
    assert listener_failures == [], listener_failures


def settled(broker: MemoryBroker, group: str, partitions: int | None = None) -> bool:
    """On a ``MemoryBroker``: every record of the topic named like ``group`` (on all its
    partitions unless ``partitions`` says how many) reached a final state (accepted or
    archived) and none is held — nothing can be delivered any more."""
    try:
        offsets = broker.share_group_offsets(group)
    except Exception:  # noqa: BLE001 - the group does not exist yet
        return False
    count = partitions if partitions is not None else broker.topics().get(group, 1)
    keys = [(group, p) for p in range(count)]
    return all(k in offsets and offsets[k].lag == 0 for k in keys) and not (
        broker.acquired_count(group)
    )


def kafka_settled(bootstrap_servers: str, group: str) -> bool:
    """On Kafka: the share group's lag is 0 on every partition that has records — each was
    accepted or archived, so nothing can be delivered again (the broker's own answer, which
    replaces "sleep and see whether something comes back")."""
    from django_sharegroups.kafka.admin import ShareGroupAdmin
    from django_sharegroups.kafka.errors import GroupIdNotFoundError

    with ShareGroupAdmin({"bootstrap.servers": bootstrap_servers}) as admin:
        try:
            offsets = admin.share_group_offsets(group)
        except GroupIdNotFoundError:  # no member has joined yet
            return False
    return bool(offsets) and all(o.lag == 0 or o.log_end_offset == 0 for o in offsets)


T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``condition`` until it returns something truthy and return that; fail the test
    after ``timeout`` seconds. Exceptions in ``ignore`` count as "not yet" (e.g. a database
    table another thread holds locked)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except ignore:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:g}s: {condition}")
        time.sleep(interval)


#: The same function under the name many tests (and branches in flight) use with ``assert``.
wait_until = wait_for


class Deliveries:
    """Thread-safe log of what consumers saw: ``(payload, delivery_count, monotonic time)``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple] = []

    def add(self, message) -> None:
        with self.lock:
            self.items.append((message.payload, message.delivery_count, time.monotonic()))

    def of(self, n) -> list[tuple[int, float]]:
        """``(delivery_count, time)`` of the record whose payload has ``"n": n``."""
        return [(count, at) for payload, count, at in self.items if payload["n"] == n]

    def counts(self) -> list[tuple[int, int]]:
        """``(n, delivery_count)`` of every delivery, sorted."""
        return sorted((payload["n"], count) for payload, count, _ in self.items)


def wait_assigned(bootstrap: str, group: str, members: int, timeout: float = 120.0):
    """Wait until the broker shows ``members`` members of ``group``, each with a partition and
    at the group's assignment epoch; returns the group's description. Records produced before
    may all be acquired by the members that happened to join first."""
    from django_sharegroups.kafka import ShareGroupAdmin
    from django_sharegroups.kafka.errors import GroupIdNotFoundError

    with ShareGroupAdmin({"bootstrap.servers": bootstrap}) as admin:

        def assigned():
            try:
                description = admin.describe_share_group(group)
            except GroupIdNotFoundError:  # no member has reached the coordinator yet
                return False
            everyone = len(description.members) == members
            return (
                everyone
                and all(m.assigned_partitions for m in description.members)
                and (description)
            )

        return wait_for(assigned, timeout=timeout, interval=0.5)
