"""The pytest plugin (registered as ``sharegroups``): test share-group consumers without Kafka.

::

    def test_orders_are_processed(sharegroups_broker):
        sharegroups_broker.produce("example-orders", b'{"order_id": 1}')
        consume_all("example-orders", broker=sharegroups_broker)
        assert Order.objects.filter(pk=1, processed=True).exists()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..clients.memory import MemoryBroker, MemoryClientFactory, reset_default_broker
from ..conf import ShareGroupsSettings
from ..routing import ShareGroup, registry
from ..runtime.runner import ShareConsumerRunner
from .outcomes import ShareGroupRun


@pytest.fixture
def sharegroups_broker() -> Iterator[MemoryBroker]:
    """A fresh in-memory broker, installed as the one the ``memory`` adapter uses."""
    broker = reset_default_broker(MemoryBroker())
    yield broker
    reset_default_broker()


@pytest.fixture
def sharegroups_run(sharegroups_broker: MemoryBroker) -> Iterator[Callable[..., ShareGroupRun]]:
    """``sharegroups_run("group")`` runs a declared share group on ``sharegroups_broker`` and
    tells what happened to each record (``testing/outcomes.py``); every run stops at teardown."""
    runs: list[ShareGroupRun] = []

    def start(share_group: str | ShareGroup, **options: Any) -> ShareGroupRun:
        # A run with its own clock gets its own broker (the fixture's keeps real time).
        broker = None if options.get("clock") is not None else sharegroups_broker
        runs.append(ShareGroupRun(share_group, broker=broker, **options))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


def consume_all(
    share_group: str | ShareGroup,
    *,
    broker: MemoryBroker,
    timeout: float = 10.0,
    from_earliest: bool = True,
) -> None:
    """Run a declared share group on ``broker`` until every record is acknowledged or archived.

    ``from_earliest`` sets the group's ``share.auto.offset.reset`` to ``earliest`` (Kafka's
    default is ``latest``, which would skip records produced before the group first polls).
    Raises ``AssertionError`` when the group has not settled within ``timeout`` seconds.
    """
    group = registry.get(share_group) if isinstance(share_group, str) else share_group
    if from_earliest:
        broker.alter_group_config(group.name, {"share.auto.offset.reset": "earliest"})
    runner = ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="memory", poll_timeout=0.05),
        factories={"memory": MemoryClientFactory(broker)},
    )
    runner.start()
    deadline = time.monotonic() + timeout
    try:
        while not broker.is_settled(group.name, group.topic_names):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"share group {group.name!r} still has unacknowledged records after "
                    f"{timeout}s: {broker.share_group_offsets(group.name)}"
                )
            time.sleep(0.02)
    finally:
        runner.shutdown()
