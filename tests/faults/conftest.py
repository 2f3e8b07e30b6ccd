"""Fixtures of the fault tests: fresh topics and share groups on the real Kafka 4.4 broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture(params=["confluent", "native"])
def adapter(request) -> str:
    """Both Kafka client adapters."""
    return request.param


@pytest.fixture
def group_configs(share_group_config) -> Callable[..., None]:
    return share_group_config


@pytest.fixture(scope="session")
def kafka_cluster():
    """A three-node KRaft cluster (replication 3, min ISR 2), started for the tests that need
    one: ``SHAREGROUPS_KAFKA_CLUSTER_PORT`` (default 19200) and the five ports after it."""
    import os

    from tests.services import kafka as kafka_service
    from tests.services import require_or_skip

    reason = kafka_service.unavailable_reason()
    if reason is not None:
        require_or_skip("kafka", reason)
    port = int(os.environ.get("SHAREGROUPS_KAFKA_CLUSTER_PORT", "19200"))
    cluster = kafka_service.KafkaCluster(port)
    started_here = all(node.pid() is None for node in cluster.nodes)
    try:
        cluster.start()
    except Exception as error:  # noqa: BLE001 - any start failure means "no cluster"
        require_or_skip("kafka", f"the three-node test cluster did not start: {error}")
    yield cluster
    if started_here:
        cluster.stop()
