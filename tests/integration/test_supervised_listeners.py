"""Supervised listeners on Kafka 4.4: user code outside ``consume`` that raises settles only the
records it raised on (with the reason recorded) and the listener goes on; a listener that dies
anyway is restarted; a group left without a live instance makes the process exit non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from confluent_kafka import Producer

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.runtime.runner import EXIT_GROUP_DOWN, ShareConsumerRunner

from ..helpers import declare
from .conftest import Collector, wait_until

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def produce(bootstrap: str, topic: str, records) -> None:
    """``records``: (key bytes or None, value bytes) pairs, in one partition, in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for key, value in records:
        producer.produce(topic, value, key=key)
    assert producer.flush(30) == 0


def run_until_settled(bootstrap, group, collector, good, bad, expected_errors):
    """Run ``group`` until the good records were consumed and every bad one was archived;
    then the group's lag must be 0 and each archived record must carry its reason."""
    bus = EventBus()
    archived: list[dict] = []
    bus.subscribe("record.archived", lambda event, payload: archived.append(payload))
    runner = ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="confluent", kafka={"bootstrap.servers": bootstrap}),
        bus=bus,
    )
    runner.start()
    try:
        assert wait_until(lambda: len(collector) >= good and len(archived) >= bad, timeout=60)
        assert all(listener.is_alive() for listener in runner.listeners)
        with ShareGroupAdmin({"bootstrap.servers": bootstrap}) as admin:
            assert wait_until(
                lambda: sum(p.lag or 0 for p in admin.share_group_offsets(group.name)) == 0,
                timeout=30,
            )
    finally:
        assert runner.shutdown() == 0
    assert sorted(payload["n"] for *_, payload in collector.seen) == list(range(good))
    assert len(archived) == bad
    by_offset = sorted(archived, key=lambda p: p["offset"])
    for payload, expected in zip(by_offset, expected_errors, strict=True):
        assert expected in payload["error"], payload
    return archived


def good_values(count: int) -> list[bytes]:
    return [json.dumps({"n": n}).encode() for n in range(count)]


class Accepting(ShareGroupConsumer):
    collector: Collector

    def consume(self, messages):
        for message in messages:
            type(self).collector.add(message)
            self.mark_accepted(message)


def accepting() -> type[Accepting]:
    return type("Accepting", (Accepting,), {"collector": Collector()})


def mixed(good: int, bad_values: list[bytes], key: bytes | None = None) -> list:
    values = good_values(good)
    for index, bad in enumerate(bad_values):
        values.insert(3 + 4 * index, bad)
    return [(key, value) for value in values]


def test_a_raising_filter_settles_only_the_records_it_raised_on(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_delivery_count_limit=2)
    produce(kafka_bootstrap_servers, name, mixed(12, [b'{"bad": 1}', b'{"bad": 2}']))

    def keep(message):
        if "bad" in message.payload:
            raise ValueError(f"cannot judge {message.payload}")
        return True

    consumer = accepting()
    group = declare(name, consumer, topic_options={"filter": keep})
    run_until_settled(
        kafka_bootstrap_servers,
        group,
        consumer.collector,
        good=12,
        bad=2,
        expected_errors=["filter raised ValueError: cannot judge"] * 2,
    )


def test_per_key_on_an_unhashable_key_settles_only_that_record(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_delivery_count_limit=2)
    records = [(b'"a"' if n % 2 else b'"b"', value) for n, value in enumerate(good_values(10))]
    records.insert(4, (b"[1, 2]", b'{"list": "key"}'))
    produce(kafka_bootstrap_servers, name, records)
    consumer = accepting()
    group = declare(
        name,
        consumer,
        topic_options={
            "jobs_builder": "per_key",
            "max_messages_per_job": 5,
            "key_deserializer": "json",
        },
    )
    run_until_settled(
        kafka_bootstrap_servers,
        group,
        consumer.collector,
        good=10,
        bad=1,
        expected_errors=["jobs builder raised TypeError: unhashable type: 'list'"],
    )


def test_a_raising_custom_jobs_builder_settles_only_the_records_it_raised_on(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_delivery_count_limit=2)
    produce(kafka_bootstrap_servers, name, mixed(10, [b'{"bad": 1}']))

    def build(messages, size):
        if any("bad" in m.payload for m in messages):
            raise RuntimeError("no job for a bad record")
        return [[m] for m in messages]

    consumer = accepting()
    group = declare(name, consumer, topic_options={"jobs_builder": build})
    run_until_settled(
        kafka_bootstrap_servers,
        group,
        consumer.collector,
        good=10,
        bad=1,
        expected_errors=["jobs builder raised RuntimeError: no job for a bad record"],
    )


def test_a_raising_deserializer_settles_only_the_records_it_raised_on(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, mixed(10, [b"not json", b"{broken"]))

    def strict_json(raw):
        return json.loads(raw)

    consumer = accepting()
    group = declare(name, consumer, topic_options={"deserializer": strict_json})
    run_until_settled(
        kafka_bootstrap_servers,
        group,
        consumer.collector,
        good=10,
        bad=2,
        expected_errors=["JSONDecodeError", "JSONDecodeError"],
    )


def test_a_listener_killed_by_a_fault_is_restarted_and_its_records_are_processed(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [(None, v) for v in good_values(10)])
    collector = Collector()
    faults = threading.Event()

    class DiesOnce(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                if message.payload["n"] == 4 and not faults.is_set():
                    faults.set()
                    raise SystemExit("injected fault")  # no job may raise this: the thread dies
                collector.add(message)
                self.mark_accepted(message)

    bus = EventBus()
    restarted: list[dict] = []
    shutdown: list[dict] = []
    bus.subscribe("consumer.restarted", lambda event, payload: restarted.append(payload))
    bus.subscribe("process.shutdown", lambda event, payload: shutdown.append(payload))
    runner = ShareConsumerRunner(
        [declare(name, DiesOnce)],
        settings=ShareGroupsSettings(
            client="confluent", kafka={"bootstrap.servers": kafka_bootstrap_servers}
        ),
        bus=bus,
    )
    runner.start()
    try:
        assert wait_until(
            lambda: sorted(p["n"] for *_, p in collector.seen) == list(range(10)), timeout=60
        )
    finally:
        exit_code = runner.shutdown()
    assert exit_code == 0  # the restarted listener was serving the group at the end
    assert [(r["index"], r["attempt"]) for r in restarted] == [(0, 1)]
    assert "SystemExit: injected fault" in restarted[0]["cause"]
    assert shutdown[0]["clean"] is False and shutdown[0]["restarts"] == 1


def test_a_group_without_a_live_instance_makes_runshareconsumers_exit_non_zero(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [(None, v) for v in good_values(3)])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fixtures.dying_settings",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DYING_TOPIC": name,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "runshareconsumers", "--group", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_GROUP_DOWN, output
    assert f"share group {name!r} has had no live instance" in result.stderr, output
    assert "SystemExit: consumer exits on" in result.stderr, output
    assert "'clean': True" not in output
