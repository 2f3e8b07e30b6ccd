"""Fixtures of the fault tests: fresh topics and share groups on the real Kafka 4.4 broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.conftest import share_topic  # noqa: F401 - a fixture used here too


@pytest.fixture(params=["confluent", "native"])
def adapter(request) -> str:
    """Both Kafka client adapters."""
    return request.param


@pytest.fixture
def group_configs(share_group_config) -> Callable[..., None]:
    return share_group_config
