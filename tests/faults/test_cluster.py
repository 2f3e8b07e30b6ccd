"""Failover on a three-node KRaft cluster: the leader of a partition is killed (SIGKILL) while
a share group consumes it; every record is still accepted. Both Kafka adapters."""

from __future__ import annotations

import logging
import sys
import threading
import traceback

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.runtime.runner import ShareConsumerRunner
from tests.helpers import declare, wait_for
from tests.services.kafka import alter_share_group_config, unique_name

pytestmark = pytest.mark.kafka

RECORDS = 300
PARTITIONS = 3


class Accepted:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.coordinates: set[tuple[int, int]] = set()
        self.deliveries = 0

    def add(self, message) -> None:
        with self.lock:
            self.coordinates.add((message.partition, message.offset))
            self.deliveries += 1

    def __len__(self) -> int:
        with self.lock:
            return len(self.coordinates)


def accepting(accepted: Accepted) -> type[ShareGroupConsumer]:
    class Accepting(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
                accepted.add(message)

    return Accepting


def produce(bootstrap: str, topic: str) -> set[tuple[int, int]]:
    placed: set[tuple[int, int]] = set()

    def delivered(error, message) -> None:
        assert error is None, error
        placed.add((message.partition(), message.offset()))

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for number in range(RECORDS):
        producer.produce(
            topic, f'{{"n": {number}}}'.encode(), key=str(number).encode(), on_delivery=delivered
        )
    assert producer.flush(60) == 0
    return placed


def dump_threads(reason: str) -> None:
    """Every thread's stack on stderr (what ``py-spy dump`` shows), for a stall in CI."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    print(f"\n--- {reason}: thread stacks ---", file=sys.stderr)
    for ident, frame in sys._current_frames().items():
        print(f"Thread {names.get(ident, ident)}:", file=sys.stderr)
        print("".join(traceback.format_stack(frame)), file=sys.stderr)


@pytest.mark.parametrize("adapter", ["confluent", "native"])
def test_killing_a_partition_leader_mid_consumption_loses_nothing(kafka_cluster, adapter, caplog):
    # A stall after the kill (seen once in CI: nothing logged at INFO for 240 s) needs the
    # native client's DEBUG lines (each poll, fetch failure, connection) to be explained;
    # pytest shows them only when the test fails.
    caplog.set_level(logging.DEBUG, logger="django_sharegroups")
    bootstrap = kafka_cluster.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    name = unique_name("failover")
    admin.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(60)
    alter_share_group_config(
        admin, name, {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": 3000}
    )
    placed = produce(bootstrap, name)
    accepted = Accepted()
    runner = ShareConsumerRunner(
        [declare(name, accepting(accepted), concurrency=2)],
        settings=ShareGroupsSettings(
            client=adapter,
            kafka={"bootstrap.servers": bootstrap},
            poll_timeout=0.2,
            shutdown_timeout=20,
        ),
    )
    leader = None
    runner.start()
    try:
        wait_for(lambda: len(accepted) >= RECORDS // 4, 120)
        leader = admin.list_topics(name, timeout=30).topics[name].partitions[0].leader
        kafka_cluster.node(leader).kill()
        try:
            wait_for(lambda: len(accepted) >= len(placed), 240)
        except BaseException:
            dump_threads(f"{len(accepted)} of {len(placed)} records accepted after the kill")
            raise
    finally:
        exit_code = runner.shutdown()
        if leader is not None:
            kafka_cluster.node(leader).start()
    lost = placed - accepted.coordinates
    assert lost == set(), f"{len(lost)} record(s) never accepted"
    print(
        f"\n{adapter}: leader {leader} killed; {len(placed)} records, "
        f"{accepted.deliveries} deliveries accepted, exit code {exit_code}"
    )
