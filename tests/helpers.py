"""The test helpers, one of each: declare a group, produce, run groups, wait for a condition.

Fixtures live in the conftests (tests/conftest.py: the services); everything a test calls
lives here. Brokers are either a ``MemoryBroker`` or the bootstrap address of real Kafka.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import pytest

from django_sharegroups import ShareGroupConsumer, share_group, topic
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
    keys: Sequence[bytes | None] | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
    spread: int | None = None,
    one_batch: bool = False,
    config: dict[str, Any] | None = None,
) -> list[bytes]:
    """Produce each payload as JSON (bytes as they are) to the memory broker or real Kafka and
    return the values written.

    Where: ``partition``, or round-robin over partitions ``0..spread-1``, or where the
    partitioner puts them (by the hash of ``key``, or of ``keys``: one a record). On Kafka the
    call waits until every record is stored; ``one_batch=True`` puts them in one producer
    batch whatever the machine's load (Kafka acquires whole batches); ``config`` adds
    producer settings (``compression.type``, ``linger.ms``)."""
    values = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in payloads]

    def where(index: int) -> dict[str, Any]:
        place: dict[str, Any] = {"key": key if keys is None else keys[index], "headers": headers}
        if spread is not None:
            place["partition"] = index % spread
        elif partition is not None:
            place["partition"] = partition
        return place

    if isinstance(broker, MemoryBroker):
        for index, value in enumerate(values):
            broker.produce(topic_name, value, **where(index))
        return values
    from confluent_kafka import Producer

    settings = {"bootstrap.servers": broker, "linger.ms": 10_000 if one_batch else 5}
    producer = Producer({**settings, **(config or {})})
    producer.list_topics(topic_name, timeout=10)  # no record waits for metadata alone
    for index, value in enumerate(values):
        producer.produce(topic_name, value, **where(index))
    assert producer.flush(30) == 0, "records were not delivered within 30 s"
    return values


def numbered(count: int, prefix: str = "value") -> list[bytes]:
    """``count`` distinct record values ``b"<prefix>-<n>"``."""
    return [f"{prefix}-{n}".encode() for n in range(count)]


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


class Delivery(NamedTuple):
    """One delivery a consumer saw."""

    payload: Any
    delivery_count: int
    at: float  #: monotonic time
    topic: str
    partition: int
    offset: int


class Deliveries:
    """Thread-safe log of every delivery consumers saw (``items``: ``Delivery`` tuples)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[Delivery] = []

    def add(self, message) -> None:
        delivery = Delivery(
            message.payload, message.delivery_count, time.monotonic(), *message.coordinates
        )
        with self.lock:
            self.items.append(delivery)

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)

    def of(self, n) -> list[tuple[int, float]]:
        """``(delivery_count, time)`` of the record whose payload has ``"n": n``."""
        return [(d.delivery_count, d.at) for d in self.items if d.payload["n"] == n]

    def counts(self) -> list[tuple[int, int]]:
        """``(n, delivery_count)`` of every delivery, sorted."""
        return sorted((d.payload["n"], d.delivery_count) for d in self.items)

    def payloads(self) -> list[Any]:
        return [d.payload for d in self.items]

    def offsets(self) -> list[tuple[int, int]]:
        """``(partition, offset)`` of every delivery, in the order they came."""
        return [(d.partition, d.offset) for d in self.items]


def assigned(admin, group: str, members: int = 1):
    """The description of ``group`` when the broker shows exactly ``members`` members, each
    with a partition; None before (also while no member has reached the coordinator)."""
    from django_sharegroups.kafka.errors import KafkaError

    try:
        description = admin.describe_share_group(group)
    except KafkaError:
        return None
    if len(description.members) == members and all(
        m.assigned_partitions for m in description.members
    ):
        return description
    return None


def wait_assigned(bootstrap: str, group: str, members: int, timeout: float = 120.0):
    """Wait until the broker shows ``members`` members of ``group``, each with a partition;
    returns the group's description. Records produced before may all be acquired by the
    members that happened to join first."""
    from django_sharegroups.kafka import ShareGroupAdmin

    with ShareGroupAdmin({"bootstrap.servers": bootstrap}) as admin:
        return wait_for(lambda: assigned(admin, group, members), timeout=timeout, interval=0.5)


class Recording(ShareGroupConsumer):
    """Accepts everything and records the messages it saw in ``seen`` (a class attribute:
    one list per subclass, see ``recording_consumer``); subclass to change behaviour."""

    seen: list
    lock = threading.Lock()

    def consume(self, messages):
        for message in messages:
            with self.lock:
                type(self).seen.append(message)
            self.mark_accepted(message)


def recording_consumer() -> type[Recording]:
    """A ``Recording`` consumer class with a ``seen`` list of its own."""
    return type("Recorder", (Recording,), {"seen": []})


class Accepting(ShareGroupConsumer):
    """Adds every record to ``collector`` (a class attribute, see ``accepting``) and ACCEPTs it."""

    collector: Deliveries

    def consume(self, messages):
        for message in messages:
            type(self).collector.add(message)
            self.mark_accepted(message)


def accepting() -> type[Accepting]:
    """An ``Accepting`` consumer class with a ``Deliveries`` collector of its own."""
    return type("Accepting", (Accepting,), {"collector": Deliveries()})


def released_once(seen: Deliveries, delay_ms: int | None = None) -> type[ShareGroupConsumer]:
    """A consumer that logs every delivery in ``seen``, releases a record's first delivery
    (after ``delay_ms``, if given) and accepts the next."""

    class ReleasedOnce(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                if message.delivery_count == 1:
                    self.mark_released(message, delay=delay_ms)
                else:
                    self.mark_accepted(message)

    return ReleasedOnce
