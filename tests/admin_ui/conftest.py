"""Fixtures of the share-group admin tests (CLI, admin views, browser) on a real Kafka broker.

Each group gets a fresh two-partition topic and starts at the earliest offset. Groups are
left on the broker afterwards (unique names make that harmless), as in tests/kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from django_sharegroups.kafka import ShareGroupAdmin
from tests.services.kafka import unique_name

from ..helpers import numbered, produce, wait_for
from .helpers import RunningConsumer, total_lag

RECORDS = 6


@dataclass(frozen=True)
class GroupOnBroker:
    name: str
    topic: str
    records: int


@pytest.fixture
def kafka_settings(settings, kafka_bootstrap_servers: str) -> str:
    """Point ``SHAREGROUPS["KAFKA"]`` (what the CLI and the admin read) at the test broker."""
    settings.SHAREGROUPS = {
        **settings.SHAREGROUPS,
        "KAFKA": {"bootstrap.servers": kafka_bootstrap_servers},
    }
    return kafka_bootstrap_servers


@pytest.fixture
def no_kafka_settings(settings, monkeypatch) -> None:
    """No bootstrap servers anywhere: the project would run on the in-memory broker."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings.SHAREGROUPS = {**settings.SHAREGROUPS, "KAFKA": {}}


@pytest.fixture
def broker_admin(kafka_bootstrap_servers: str) -> Iterator[ShareGroupAdmin]:
    """The test's own view of the broker, to check what the CLI and pages did."""
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
        yield admin


@pytest.fixture
def new_group(
    kafka_bootstrap_servers: str,
    kafka_topic: Callable[..., str],
    share_group_config: Callable[..., None],
) -> Callable[[], GroupOnBroker]:
    """``new_group()``: a topic with RECORDS records and a group name starting at earliest
    (the group exists on the broker once a consumer joins)."""

    def create() -> GroupOnBroker:
        topic = kafka_topic(partitions=2, prefix="adminui")
        name = unique_name("adminui-group")
        share_group_config(name, {"share.auto.offset.reset": "earliest"})
        produce(kafka_bootstrap_servers, topic, numbered(RECORDS), spread=2)
        return GroupOnBroker(name, topic, RECORDS)

    return create


@pytest.fixture
def consumed_group(
    new_group: Callable[[], GroupOnBroker],
    kafka_bootstrap_servers: str,
    broker_admin: ShareGroupAdmin,
) -> GroupOnBroker:
    """A share group without members that consumed (and acknowledged) all its records."""
    group = new_group()
    with RunningConsumer(kafka_bootstrap_servers, group.name, group.topic) as consumer:
        consumer.wait_for_records(group.records)
    wait_for(lambda: total_lag(broker_admin, group.name) == 0)
    wait_for(lambda: broker_admin.describe_share_group(group.name).is_empty)
    return group


@pytest.fixture
def running_consumer(
    kafka_bootstrap_servers: str, broker_admin: ShareGroupAdmin
) -> Callable[[GroupOnBroker], RunningConsumer]:
    """``with running_consumer(group) as consumer:`` a member that stays until the block ends;
    entering waits until the broker shows it with an assignment."""

    class Member(RunningConsumer):
        def __enter__(self) -> RunningConsumer:
            super().__enter__()
            self.wait_for_member(broker_admin)
            return self

    return lambda group: Member(kafka_bootstrap_servers, group.name, group.topic)
