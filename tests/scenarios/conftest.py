"""The ``harness`` fixture: every scenario runs on memory, the librdkafka mock and real Kafka."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import BrokerHarness, backends, open_harness


@pytest.fixture(params=backends())
def harness(request: pytest.FixtureRequest) -> Iterator[BrokerHarness]:
    """A fresh broker harness; scenarios needing a capability parametrize it themselves with
    ``@pytest.mark.parametrize("harness", backends(Capability.X), indirect=True)``."""
    with open_harness(request.param, request) as harness:
        yield harness
