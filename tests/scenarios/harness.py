"""Broker harnesses: one small interface over the memory broker, librdkafka's mock and Kafka.

Scenarios drive members only through the client adapter interface (``ShareConsumerClient``:
subscribe, poll, acknowledge, commit_sync, close). A harness does what a member cannot: create
topics, set share-group configs, produce, let time pass, and — on the mock only — make several
members share a partition. It also knows how long to wait on its broker: nothing on the memory
broker (a ``ManualClock`` moves time at once), a second or so on the real ones.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from confluent_kafka import Producer

from django_sharegroups.clients.base import (
    AcknowledgeType,
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from django_sharegroups.clients.confluent import ConfluentClientFactory, ConfluentShareConsumer
from django_sharegroups.clients.memory import (
    ManualClock,
    MemoryBroker,
    MemoryClientFactory,
    MemoryShareConsumer,
)
from django_sharegroups.clients.native import NativeClientFactory, NativeShareConsumer
from django_sharegroups.exceptions import NotSupportedError
from django_sharegroups.testing.mock_cluster import MockCluster

#: The shortest acquisition lock Kafka accepts on the test broker
#: (``group.share.min.record.lock.duration.ms=1000``); every backend uses it for expiry tests.
SHORT_LOCK_MS = 1000

#: Kafka 4.4's defaults for what a group does not set (the mock's settings are cluster-wide,
#: so its harness sets every one of them for every group).
DEFAULT_LOCK_MS = 30_000
DEFAULT_DELIVERY_COUNT_LIMIT = 5

Ack = Callable[[ReceivedRecord], AcknowledgeType]


def accept(record: ReceivedRecord) -> AcknowledgeType:
    return AcknowledgeType.ACCEPT


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class BrokerHarness(ABC):
    """One broker, its members and the waiting rules of that broker."""

    #: Backend name, also the test id: ``memory``, ``mock`` or ``kafka``.
    name: ClassVar[str]
    #: The adapter class the members are built with (its capabilities decide xfails).
    adapter: ClassVar[type[ShareConsumerClient]]
    #: Real seconds one poll may wait.
    poll_timeout: ClassVar[float]
    #: Real seconds to wait for records that should come, before the scenario fails.
    patience: ClassVar[float]
    #: Real seconds of polling after which "nothing came" is taken as "nothing comes".
    quiet_period: ClassVar[float]

    def __init__(self, factory: ShareConsumerClientFactory) -> None:
        self.factory = factory
        self.partitions: dict[str, int] = {}
        self._members: list[ShareConsumerClient] = []

    # -- the broker side ---------------------------------------------------------------

    def create_topic(self, partitions: int = 1) -> str:
        name = self._create_topic(partitions)
        self.partitions[name] = partitions
        return name

    def create_group(
        self,
        *,
        auto_offset_reset: str = "earliest",
        lock_duration_ms: int = DEFAULT_LOCK_MS,
        delivery_count_limit: int = DEFAULT_DELIVERY_COUNT_LIMIT,
    ) -> str:
        """A fresh share group; Kafka's default reset is ``latest``, scenarios say which."""
        group = unique_name("group")
        self._configure_group(
            group,
            {
                "share.auto.offset.reset": auto_offset_reset,
                "share.record.lock.duration.ms": lock_duration_ms,
                "share.delivery.count.limit": delivery_count_limit,
            },
        )
        return group

    def produce(
        self,
        topic: str,
        values: Sequence[bytes],
        *,
        partition: int | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Append ``values`` in order; without ``partition`` the i-th goes to ``i % partitions``
        (explicitly, so every backend places records the same way)."""
        count = self.partitions[topic]
        for index, value in enumerate(values):
            target = partition if partition is not None else index % count
            self._produce(topic, target, value, key, list(headers or ()), timestamp_ms)
        self._flush()

    def member(
        self, group: str, topic: str, overrides: Mapping[str, Any] | None = None
    ) -> ShareConsumerClient:
        """A new member of ``group`` subscribed to ``topic``; closed when the test ends."""
        client = self.factory.create(
            group, client_id=f"{self.name}-{len(self._members)}", overrides=overrides
        )
        self._members.append(client)
        client.subscribe([topic])
        self._joining(group, client)
        return client

    @abstractmethod
    def pass_time(self, ms: int) -> None:
        """Let ``ms`` milliseconds of broker time pass."""

    def now_ms(self) -> float:
        """Broker time in ms (real monotonic time except on memory's ManualClock)."""
        return time.monotonic() * 1000

    def pass_time_until(self, instant_ms: float) -> None:
        """Let broker time reach ``instant_ms`` (from ``now_ms``); nothing if it already did."""
        remaining = instant_ms - self.now_ms()
        if remaining > 0:
            self.pass_time(int(remaining) + 1)

    def let_locks_expire(self, lock_duration_ms: int = SHORT_LOCK_MS) -> None:
        """Let a lock taken just before now run out (plus a margin on real brokers)."""
        self.pass_time(lock_duration_ms + self.expiry_margin_ms)

    def share_partitions(  # noqa: B027 - a no-op except on the mock
        self, group: str, topic: str, members: Sequence[ShareConsumerClient]
    ) -> None:
        """Make ``members`` share every partition of ``topic``, as Kafka's assignor does with
        more members than partitions. Call it before producing. Only the mock needs work."""

    def close(self) -> None:
        for client in self._members:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a failed close must not hide the test result
                pass
        self._members.clear()

    # -- the member side (through the adapter only) ------------------------------------

    def acquire(self, member: ShareConsumerClient) -> list[ReceivedRecord]:
        """Poll until something comes and return it unacknowledged (the member holds it)."""
        return self.acquire_from_any([member])[1]

    def acquire_from_any(
        self, members: Sequence[ShareConsumerClient]
    ) -> tuple[ShareConsumerClient, list[ReceivedRecord]]:
        """Poll the members in turn until one gets records; return it and what it holds.

        Scenarios with several members let the broker pick the first holder, as the mock only
        ever gives new records of a partition to one member (see ``share_partitions``)."""
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            for member in members:
                records = member.poll(100, self.poll_timeout)
                if records:
                    return member, records
        raise AssertionError(f"{self.name}: nothing was delivered within {self.patience}s")

    def consume(
        self, member: ShareConsumerClient, count: int, ack: Ack = accept
    ) -> list[ReceivedRecord]:
        """Poll until ``count`` records came, acknowledging each as ``ack`` says and committing
        after every poll; return every record seen (a poll may bring more than ``count``)."""
        return self.consume_from_all([member], count, ack)[0]

    def consume_from_all(
        self, members: Sequence[ShareConsumerClient], count: int, ack: Ack = accept
    ) -> list[list[ReceivedRecord]]:
        """Poll the members in turn until they saw ``count`` records between them."""
        seen: list[list[ReceivedRecord]] = [[] for _ in members]
        deadline = time.monotonic() + self.patience
        while sum(map(len, seen)) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{self.name}: {sum(map(len, seen))} of {count} records came within "
                    f"{self.patience}s: {describe(seen)}"
                )
            for index, member in enumerate(members):
                seen[index] += self._poll_and_acknowledge(member, ack)
        return seen

    def quiet(
        self, *members: ShareConsumerClient, ack: Ack = accept, period: float | None = None
    ) -> list[ReceivedRecord]:
        """Poll the members for ``period`` real seconds (at most ``quiet_period``); return
        whatever came (expected: nothing)."""
        came: list[ReceivedRecord] = []
        period = self.quiet_period if period is None else min(period, self.quiet_period)
        deadline = time.monotonic() + period
        while True:
            for member in members:
                # Never wait past the period: an adapter that honours the whole poll timeout
                # (native) would otherwise still be polling after the period ended.
                timeout = min(self.poll_timeout, max(0.0, deadline - time.monotonic()))
                came += self._poll_and_acknowledge(member, ack, timeout)
            if time.monotonic() >= deadline:
                return came

    def _poll_and_acknowledge(
        self, member: ShareConsumerClient, ack: Ack, timeout: float | None = None
    ) -> list[ReceivedRecord]:
        records = member.poll(100, self.poll_timeout if timeout is None else timeout)
        for record in records:
            member.acknowledge(record, ack(record))
        failures = member.commit_sync(10) if records else []
        failures += member.take_acknowledgement_failures()
        assert failures == [], f"{self.name}: acknowledgements refused: {failures}"
        return records

    # -- per backend -------------------------------------------------------------------

    #: How long past a lock's end the broker may still treat the record as acquired.
    expiry_margin_ms: ClassVar[int] = 0

    def _joining(self, group: str, client: ShareConsumerClient) -> None:  # noqa: B027
        """Called after a member subscribed (the mock waits for it to settle)."""

    @abstractmethod
    def _create_topic(self, partitions: int) -> str: ...

    @abstractmethod
    def _configure_group(self, group: str, configs: dict[str, Any]) -> None: ...

    @abstractmethod
    def _produce(
        self,
        topic: str,
        partition: int,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
        timestamp_ms: int | None,
    ) -> None: ...

    def _flush(self) -> None:  # noqa: B027 - only the Kafka-protocol backends buffer
        pass


def describe(seen: Sequence[Sequence[ReceivedRecord]]) -> list[list[tuple[int, int, int]]]:
    """(partition, offset, delivery count) per member, for failure messages."""
    return [[(r.partition, r.offset, r.delivery_count) for r in records] for records in seen]


class MemoryHarness(BrokerHarness):
    """The in-memory broker on a ``ManualClock``: lock expiry is a clock move, nothing waits."""

    name = "memory"
    adapter = MemoryShareConsumer
    poll_timeout = 0.0
    patience = 1.0
    quiet_period = 0.05

    def __init__(self) -> None:
        self.clock = ManualClock()
        # Kafka's default minimum lock is 15 s; the test broker lowers it to 1 s, so do we.
        self.broker = MemoryBroker(
            clock=self.clock,
            config={"group.share.min.record.lock.duration.ms": SHORT_LOCK_MS},
        )
        super().__init__(MemoryClientFactory(self.broker))

    def pass_time(self, ms: int) -> None:
        self.clock.advance(ms=ms)

    def now_ms(self) -> float:
        return self.clock.now_ms()

    def _create_topic(self, partitions: int) -> str:
        name = unique_name("scenario")
        self.broker.create_topic(name, partitions)
        return name

    def _configure_group(self, group: str, configs: dict[str, Any]) -> None:
        self.broker.alter_group_config(group, configs)

    def _produce(self, topic, partition, value, key, headers, timestamp_ms) -> None:
        self.broker.produce(
            topic, value, key=key, headers=headers, partition=partition, timestamp=timestamp_ms
        )


class _KafkaProtocolHarness(BrokerHarness):
    """Members through the ``confluent`` adapter, records through a librdkafka producer."""

    adapter = ConfluentShareConsumer
    poll_timeout = 0.2
    patience = 20.0
    quiet_period = 0.5
    # Kafka ends a lock on time; the margin covers a broker slowed down by a loaded machine.
    # Not much more: with 1 s, the holder's late REJECT in the "finished record" scenario was
    # refused (INVALID_RECORD_STATE) in about half the runs instead of being skipped.
    expiry_margin_ms = 600

    def __init__(self, bootstrap_servers: str) -> None:
        # one librdkafka member per client: the scenarios count and assign members
        super().__init__(
            ConfluentClientFactory({"bootstrap.servers": bootstrap_servers}, members=1)
        )
        # One produce() call makes one producer batch (flush sends at once, whatever linger.ms
        # says): Kafka acquires whole batches, so scenarios must know where batches end.
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 1000})
        self._delivery_errors: list[str] = []

    def create_topic(self, partitions: int = 1) -> str:
        name = super().create_topic(partitions)
        # Learn the topic's partitions now: records produced before the producer knows them
        # wait, and one of them may leave in a batch of its own when the metadata arrives.
        self._producer.list_topics(name, timeout=10)
        return name

    def pass_time(self, ms: int) -> None:
        time.sleep(ms / 1000)

    def _produce(self, topic, partition, value, key, headers, timestamp_ms) -> None:
        self._producer.produce(
            topic,
            value=value,
            key=key,
            partition=partition,
            headers=headers or None,
            timestamp=timestamp_ms or 0,
            on_delivery=self._on_delivery,
        )

    def _on_delivery(self, error, message) -> None:
        if error is not None:
            self._delivery_errors.append(str(error))

    def _flush(self) -> None:
        assert self._producer.flush(30) == 0, "records were not delivered within 30 s"
        assert self._delivery_errors == [], f"produce failed: {self._delivery_errors}"

    def close(self) -> None:
        super().close()
        self._producer.flush(10)
        del self._producer  # destroyed now, before the broker it talks to goes away


class MockClusterHarness(_KafkaProtocolHarness):
    """librdkafka's mock cluster. Its share-group settings apply to the whole cluster, so all
    groups of one test must agree on them (the harness checks)."""

    name = "mock"
    # The mock reclaims expired acquisition locks in a sweep once a second, and until then an
    # acknowledgement of the record still succeeds: wait for the sweep too, and for a sweep
    # that comes late on a loaded machine.
    expiry_margin_ms = 1600

    def __init__(self, cluster: MockCluster) -> None:
        super().__init__(cluster.bootstrap_servers)
        self.cluster = cluster
        self._group_configs: dict[str, Any] | None = None
        self._member_counts: dict[str, int] = {}
        self._producer.list_topics(timeout=10)  # connect now, before any share session
        time.sleep(_MOCK_SETTLE_SECONDS)

    def _joining(self, group: str, client: ShareConsumerClient) -> None:
        """Wait until the new member joined, then a moment more: every new librdkafka client
        drops its bootstrap connection right after its first metadata, and the mock closes
        every share session on a broker when any connection to it closes (releasing the
        records those sessions hold). Members must not be mid-fetch when that happens."""
        expected = self._member_counts[group] = self._member_counts.get(group, 0) + 1
        deadline = time.monotonic() + self.patience
        while len(self.cluster.share_group_member_ids(group)) < expected:
            assert time.monotonic() < deadline, f"member {expected} never joined {group}"
            time.sleep(0.01)
        time.sleep(_MOCK_SETTLE_SECONDS)

    def _create_topic(self, partitions: int) -> str:
        name = unique_name("scenario")
        self.cluster.create_topic(name, partitions)
        return name

    def _configure_group(self, group: str, configs: dict[str, Any]) -> None:
        if self._group_configs not in (None, configs):
            raise AssertionError(
                "the mock's share-group settings are cluster-wide: every group of a scenario "
                f"must use the same ones ({self._group_configs} != {configs})"
            )
        self._group_configs = configs
        self.cluster.set_share_group(
            auto_offset_reset=configs["share.auto.offset.reset"],
            record_lock_duration_ms=configs["share.record.lock.duration.ms"],
            delivery_count_limit=configs["share.delivery.count.limit"],
        )

    def share_partitions(
        self, group: str, topic: str, members: Sequence[ShareConsumerClient]
    ) -> None:
        """The mock's assignor gives a partition to one member only: assign by hand.

        Even then the mock hands *new* records of a partition only to the member its own
        assignor chose; records that come back (lock expiry, release, a member leaving) do
        reach the other members. Scenarios therefore let ``acquire_from_any`` pick the holder.
        """
        member_ids = self.cluster.share_group_member_ids(group)
        assert len(member_ids) == len(members), f"{len(members)} members, mock has {member_ids}"
        partitions = [(topic, partition) for partition in range(self.partitions[topic])]
        self.cluster.assign_share_group(group, {member: partitions for member in member_ids})


class KafkaHarness(_KafkaProtocolHarness):
    """The real Apache Kafka 4.4 test broker (the session's ``kafka_bootstrap_servers``)."""

    name = "kafka"

    def __init__(
        self,
        bootstrap_servers: str,
        new_topic: Callable[..., str],
        configure_group: Callable[[str, dict[str, Any]], None],
    ) -> None:
        super().__init__(bootstrap_servers)
        self._new_topic = new_topic
        self._configure = configure_group

    def _create_topic(self, partitions: int) -> str:
        return self._new_topic(partitions, prefix="scenario")

    def _configure_group(self, group: str, configs: dict[str, Any]) -> None:
        self._configure(group, configs)


class NativeHarness(KafkaHarness):
    """The real Kafka 4.4 test broker, members through the ``native`` adapter."""

    name = "native"
    adapter = NativeShareConsumer

    def __init__(self, bootstrap_servers, new_topic, configure_group) -> None:
        super().__init__(bootstrap_servers, new_topic, configure_group)
        self.factory = NativeClientFactory({"bootstrap.servers": bootstrap_servers})


# -- parametrization ---------------------------------------------------------------------

HARNESSES: dict[str, type[BrokerHarness]] = {
    "memory": MemoryHarness,
    "mock": MockClusterHarness,
    "kafka": KafkaHarness,
    "native": NativeHarness,
}

#: How long the mock harness lets a new client's connection churn settle.
_MOCK_SETTLE_SECONDS = 0.1

_SERVICE_MARKS = {
    "memory": (),
    "mock": (pytest.mark.mock_cluster,),
    "kafka": (pytest.mark.kafka,),
    "native": (pytest.mark.kafka,),
}


def backends(*needs: Capability) -> list[Any]:
    """The backends as pytest params; where the backend's adapter lacks a capability in
    ``needs``, the scenario is a strict xfail expecting ``NotSupportedError`` (the adapter's
    refusal, nothing else): it still runs, must fail that way, and turns red (XPASS) once the
    adapter gains the capability. Known differences of a broker are not xfails: the scenario
    states each backend's documented outcome (docs/brokers.md)."""
    params = []
    for name, harness_class in HARNESSES.items():
        marks = list(_SERVICE_MARKS[name])
        adapter = harness_class.adapter
        missing = [capability.value for capability in needs if not adapter.supports(capability)]
        if missing:
            reason = (
                f"the '{adapter.name}' client adapter lacks the "
                f"{', '.join(repr(m) for m in missing)} capability"
            )
            marks.append(pytest.mark.xfail(strict=True, raises=NotSupportedError, reason=reason))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@contextmanager
def open_harness(name: str, request: pytest.FixtureRequest) -> Iterator[BrokerHarness]:
    """Build backend ``name`` (fixtures come from ``request``); close members, then the broker."""
    if name == "memory":
        harness: BrokerHarness = MemoryHarness()
        try:
            yield harness
        finally:
            harness.close()
    elif name == "mock":
        with MockCluster(brokers=1) as cluster:
            cluster.set_share_group(heartbeat_interval_ms=500)  # as on the test broker
            harness = MockClusterHarness(cluster)
            try:
                yield harness
            finally:
                harness.close()
    elif name in ("kafka", "native"):
        harness = HARNESSES[name](
            request.getfixturevalue("kafka_bootstrap_servers"),
            request.getfixturevalue("kafka_topic"),
            request.getfixturevalue("share_group_config"),
        )
        try:
            yield harness
        finally:
            harness.close()
    else:
        raise ValueError(f"unknown backend {name!r}")
