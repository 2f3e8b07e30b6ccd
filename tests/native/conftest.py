"""Fixtures for the native adapter on the real Kafka 4.4 test broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from confluent_kafka import Producer

from django_sharegroups.clients.base import AcknowledgeType, ReceivedRecord, ShareConsumerClient
from django_sharegroups.clients.native import NativeClientFactory, NativeShareConsumer
from django_sharegroups.clients.native import records as records_module


@pytest.fixture(params=["compiled", "python"])
def record_decoder(request, monkeypatch) -> str:
    """Run a test with aiokafka's compiled record reader and with the pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(records_module, "_CompiledBatch", None)
    elif records_module._CompiledBatch is None:
        pytest.skip("aiokafka's compiled record reader is not installed")
    return request.param


@pytest.fixture
def share_topic(kafka_topic, share_group_config) -> Callable[..., str]:
    """``share_topic(partitions, **group_configs)``: a fresh topic and a share group of the
    same name reading it from the earliest offset (``share_record_lock_duration_ms=1000``)."""

    def make(partitions: int = 1, **group_configs) -> str:
        name = kafka_topic(partitions, prefix="native")
        configs = {key.replace("_", "."): value for key, value in group_configs.items()}
        share_group_config(name, {"share.auto.offset.reset": "earliest", **configs})
        return name

    return make


@pytest.fixture
def native_factory(kafka_bootstrap_servers: str) -> NativeClientFactory:
    return NativeClientFactory({"bootstrap.servers": kafka_bootstrap_servers})


@pytest.fixture
def member(native_factory: NativeClientFactory) -> Iterator[Callable[..., NativeShareConsumer]]:
    """``member(group, topic=group, **config)``: a subscribed native member, closed after."""
    members: list[NativeShareConsumer] = []

    def make(group: str, topic: str | None = None, **config) -> NativeShareConsumer:
        client = native_factory.create(
            group, client_id=f"native-test-{len(members)}", overrides=config
        )
        members.append(client)
        client.subscribe([topic or group])
        return client

    yield make
    for client in members:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - a failed close must not hide the test result
            pass


def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    *,
    partition: int | None = None,
    **config,
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    for index, value in enumerate(values):
        kwargs = {} if partition is None else {"partition": partition}
        producer.produce(topic, value, key=b"key-%d" % index, **kwargs)
    assert producer.flush(30) == 0


def poll_until(
    client: ShareConsumerClient,
    count: int,
    *,
    timeout: float = 20.0,
    max_records: int = 100,
    ack: AcknowledgeType | None = AcknowledgeType.ACCEPT,
) -> list[ReceivedRecord]:
    """Poll until ``count`` records came (acknowledging each as ``ack``, committing)."""
    records: list[ReceivedRecord] = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        polled = client.poll(max_records, 0.3)
        for record in polled:
            if ack is not None:
                client.acknowledge(record, ack)
        if polled and ack is not None:
            assert client.commit_sync(10) == []
        records += polled
    return records


def quiet(*clients: ShareConsumerClient, seconds: float = 2.0) -> list[ReceivedRecord]:
    """Poll (accepting) for ``seconds``; return whatever came."""
    came: list[ReceivedRecord] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for client in clients:
            polled = client.poll(100, 0.2)
            for record in polled:
                client.acknowledge(record, AcknowledgeType.ACCEPT)
            if polled:
                client.commit_sync(10)
            came += polled
    return came
