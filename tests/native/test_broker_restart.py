"""A native consumer while its broker goes away and comes back (a real Kafka 4.4 broker of this
test's own, stopped with SIGTERM and started again on the same port): requests back off, the
outage is logged once per episode, consumption resumes and no record is lost."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka.admin import AdminClient

from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.native import NativeShareConsumer
from tests.services import kafka as kafka_service
from tests.services import require_or_skip

from ..helpers import produce

RECORDS = 300
#: Offset from the session broker's port: this broker's own ports (it uses port .. port + 2).
PORT_OFFSET = 5


@pytest.fixture(scope="module")
def restartable_broker() -> Iterator[kafka_service.KafkaBroker]:
    """A broker nobody else uses, because this test stops it."""
    reason = kafka_service.unavailable_reason()
    if reason is not None:
        require_or_skip("kafka", reason)
    base = int(os.environ.get("SHAREGROUPS_KAFKA_PORT", kafka_service.DEFAULT_PORT))
    broker = kafka_service.KafkaBroker(base + PORT_OFFSET)
    try:
        broker.start()
    except Exception as error:  # noqa: BLE001 - any start failure means "no broker"
        require_or_skip("kafka", f"the restartable broker did not start: {error}")
    yield broker
    broker.stop()


def test_a_broker_restart_under_a_native_consumer(
    restartable_broker: kafka_service.KafkaBroker, monkeypatch, caplog
) -> None:
    broker = restartable_broker
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers, "log_level": 0})
    topic = kafka_service.create_topic(admin, 1, prefix="restart")
    kafka_service.alter_share_group_config(admin, topic, {"share.auto.offset.reset": "earliest"})
    produce(broker.bootstrap_servers, topic, [b"v%d" % i for i in range(RECORDS)])

    connects: list[tuple[str, int]] = []
    real_create_connection = socket.create_connection

    def counted(address, *args, **kwargs):
        connects.append(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    consumer = NativeShareConsumer(
        topic,
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "client.id": "restart-test",
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 1000,
        },
    )
    accepted: set[int] = set()

    def consume(polls: int) -> int:
        came = 0
        for _ in range(polls):
            records = consumer.poll(50, 0.2)
            for record in records:
                consumer.acknowledge(record, AcknowledgeType.ACCEPT)
            if records:
                assert consumer.commit_sync(10) == []
                accepted.update(record.offset for record in records)
                came += len(records)
        return came

    caplog.set_level(logging.INFO, logger="django_sharegroups")
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(accepted) < RECORDS // 3 and time.monotonic() < deadline:
            consume(1)
        assert RECORDS // 3 <= len(accepted) < RECORDS

        broker.stop()
        caplog.clear()
        connects.clear()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        assert consume(40) == 0  # 40 polls of 0.2 s with the broker down
        outage_cpu = time.process_time() - cpu_before
        outage_wall = time.monotonic() - wall_before
        broker_port = [address for address in connects if address[1] == broker.port]
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        print(
            f"broker down {outage_wall:.1f}s: {len(broker_port)} connection attempts, "
            f"{len(warnings)} warnings, {len(caplog.records)} log records, "
            f"CPU {outage_cpu:.2f}s"
        )
        # Without backoff the consumer and its heartbeat connect hundreds of times a second and
        # log each failure; with it attempts double apart up to 1 s, logged once per episode.
        assert len(broker_port) <= 3 * outage_wall + 10
        assert 1 <= len(warnings) <= 5, [r.getMessage() for r in warnings]
        assert len(caplog.records) <= 10, [r.getMessage() for r in caplog.records]

        with ThreadPoolExecutor(1) as pool:
            restarted = pool.submit(broker.start)
            deadline = time.monotonic() + 180
            while len(accepted) < RECORDS and time.monotonic() < deadline:
                consume(1)
            assert restarted.result(0) == broker.bootstrap_servers
        assert accepted == set(range(RECORDS))
        recovered = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
        assert recovered and all("failed attempt(s)" in message for message in recovered)
    finally:
        consumer.close()
