"""Supervised listeners on Kafka 4.4: user code outside ``consume`` that raises settles only the
records it raised on (with the reason recorded) and the listener goes on; a listener that dies
anyway is restarted; a group left without a live instance makes the process exit non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.runtime.runner import EXIT_GROUP_DOWN

from ..helpers import (
    Deliveries,
    accepting,
    declare,
    events_of,
    kafka_settled,
    produce,
    running,
    wait_until,
)

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def good_values(count: int) -> list[bytes]:
    return [json.dumps({"n": n}).encode() for n in range(count)]


def mixed(good: int, bad_values: list[bytes]) -> list[bytes]:
    """``good`` records ``{"n": n}`` with the bad ones among them (every fourth from the third)."""
    values = good_values(good)
    for index, bad in enumerate(bad_values):
        values.insert(3 + 4 * index, bad)
    return values


def keep_good(message) -> bool:
    if "bad" in message.payload:
        raise ValueError(f"cannot judge {message.payload}")
    return True


def jobs_of_good(messages, size):
    if any("bad" in m.payload for m in messages):
        raise RuntimeError("no job for a bad record")
    return [[m] for m in messages]


def strict_json(raw):
    return json.loads(raw)


def keyed_with_a_list(count: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` good records keyed by JSON strings, and one keyed by a JSON list."""
    values, keys = good_values(count), [b'"a"' if n % 2 else b'"b"' for n in range(count)]
    values.insert(4, b'{"list": "key"}')
    keys.insert(4, b"[1, 2]")
    return values, keys


@dataclass
class Stage:
    """User code of one stage that raises on some records: what to produce, how the topic is
    declared, and the reason each bad record must be archived with (in offset order)."""

    name: str
    values: list[bytes]
    topic_options: dict
    good: int
    errors: list[str]
    keys: list[bytes] | None = field(default=None)


PER_KEY_VALUES, PER_KEY_KEYS = keyed_with_a_list(10)
STAGES = [
    Stage(
        "filter",
        mixed(12, [b'{"bad": 1}', b'{"bad": 2}']),
        {"filter": keep_good},
        good=12,
        errors=["filter raised ValueError: cannot judge"] * 2,
    ),
    Stage(
        "per-key-unhashable-key",
        PER_KEY_VALUES,
        {"jobs_builder": "per_key", "max_messages_per_job": 5, "key_deserializer": "json"},
        good=10,
        errors=["jobs builder raised TypeError: unhashable type: 'list'"],
        keys=PER_KEY_KEYS,
    ),
    Stage(
        "custom-jobs-builder",
        mixed(10, [b'{"bad": 1}']),
        {"jobs_builder": jobs_of_good},
        good=10,
        errors=["jobs builder raised RuntimeError: no job for a bad record"],
    ),
    Stage(
        "deserializer",
        mixed(10, [b"not json", b"{broken"]),
        {"deserializer": strict_json},
        good=10,
        errors=["JSONDecodeError", "JSONDecodeError"],
    ),
]


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage.name)
def test_user_code_that_raises_settles_only_the_records_it_raised_on(
    kafka_bootstrap_servers, share_topic, stage
):
    """The group's lag reaches 0 with every listener alive, the good records were consumed
    and each bad one was archived with its reason."""
    name = share_topic(share_delivery_count_limit=2)
    produce(kafka_bootstrap_servers, name, stage.values, keys=stage.keys)
    consumer = accepting()
    bus = EventBus()
    archived = events_of(bus, "record.archived")
    group = declare(name, consumer, topic_options=stage.topic_options)
    with running([group], kafka_bootstrap_servers, bus) as runner:
        wait_until(lambda: len(consumer.collector) >= stage.good, timeout=60)
        wait_until(lambda: len(archived) >= len(stage.errors), timeout=60)
        assert all(listener.is_alive() for listener in runner.listeners)
        wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert sorted(p["n"] for p in consumer.collector.payloads()) == list(range(stage.good))
    by_offset = sorted(archived, key=lambda p: p["offset"])
    assert len(by_offset) == len(stage.errors)
    for payload, expected in zip(by_offset, stage.errors, strict=True):
        assert expected in payload["error"], payload


def test_a_listener_killed_by_a_fault_is_restarted_and_its_records_are_processed(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, good_values(10))
    collector = Deliveries()
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
    restarted, shutdown = events_of(bus, "consumer.restarted"), events_of(bus, "process.shutdown")
    # running() checks the exit code 0: the restarted listener was serving the group at the end
    with running([declare(name, DiesOnce)], kafka_bootstrap_servers, bus):
        wait_until(
            lambda: sorted(p["n"] for p in collector.payloads()) == list(range(10)), timeout=60
        )
    assert [(r["index"], r["attempt"]) for r in restarted] == [(0, 1)]
    assert "SystemExit: injected fault" in restarted[0]["cause"]
    assert shutdown[0]["clean"] is False and shutdown[0]["restarts"] == 1


def test_a_group_without_a_live_instance_makes_runshareconsumers_exit_non_zero(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, good_values(3))
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
