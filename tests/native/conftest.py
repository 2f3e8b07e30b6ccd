"""Fixtures for the native adapter on the real Kafka 4.4 test broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
