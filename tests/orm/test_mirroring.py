"""Mirroring: the reporter writes processes, leases, dead letters and archived records."""

from __future__ import annotations

import base64
import os
import re
import threading
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone

from django_sharegroups.conf import ShareGroupsSettings, get_settings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.instrumentation import EventBus, events
from django_sharegroups.mirroring import writers
from django_sharegroups.mirroring.listeners import MirrorListener, connect
from django_sharegroups.mirroring.reporter import MirrorReporter
from django_sharegroups.mirroring.settings import MirrorSettings
from django_sharegroups.models import ArchivedRecord, ConsumerProcess, DeadLetter, Lease
from django_sharegroups.routing.checks import check_routes
from django_sharegroups.routing.registry import RouteRegistry

from ..helpers import declare, prepare, produce, running, settled, wait_until
from .factories import ConsumerProcessFactory, LeaseFactory
from .helpers import EffectConsumer, numbered

pytestmark = pytest.mark.django_db(transaction=True)


def mirror_settings(**mirror) -> dict:
    """``running(..., **mirror_settings(...))``: mirroring as given, written every 50 ms."""
    return {"mirror": MirrorSettings.from_setting({"interval": 0.05, **mirror})}


@pytest.fixture
def bus() -> EventBus:
    bus = EventBus()
    connect(bus)
    return bus


# -- settings -------------------------------------------------------------------------------


def test_an_unconfigured_project_mirrors_everything_and_hand_built_settings_nothing():
    assert get_settings().mirror.enabled
    assert {get_settings().mirror.mode(k) for k in ("processes", "leases")} == {"full"}
    assert not ShareGroupsSettings(client="memory").mirror.enabled
    assert MirrorSettings.from_setting("off") == MirrorSettings.from_setting(
        dict.fromkeys(("processes", "leases", "dead_letters", "archived", "rollups"), "off")
    )
    assert MirrorSettings.from_setting("sampled").rollups == "full"  # counts are never sampled


@pytest.mark.parametrize(
    "value, message",
    [
        ({"leases": "some"}, "expected one of off, sampled, full"),
        ({"lease": "full"}, "Unknown SHAREGROUPS['MIRROR'] key(s): lease"),
        ({"sample_rate": 2}, "'sample_rate'] is 2"),
        ({"interval": 0}, "'interval'] is 0"),
        ({"queue_size": True}, "'queue_size'] is True"),
        ({"max_leases": 0}, "'max_leases'] is 0"),
        ({"rollups": "sampled"}, "'rollups'] is 'sampled'; expected 'off' or 'full'"),
        ({"rollup_retention": -1}, "'rollup_retention'] is -1"),
        (["full"], "must be a dict"),
    ],
)
def test_bad_mirror_settings_are_reported_by_the_checks(value, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        MirrorSettings.from_setting(value)
    with override_settings(SHAREGROUPS={"MIRROR": value}):
        errors = check_routes(routes=RouteRegistry())
    assert [e.id for e in errors] == ["sharegroups.E009"]


def test_sampling_is_stable_and_close_to_the_rate():
    mirror = MirrorSettings.from_setting({"archived": "sampled", "sample_rate": 0.25})
    kept = [mirror.keeps("archived", "g", "t", 0, offset) for offset in range(4000)]
    assert 800 <= sum(kept) <= 1200
    assert kept == [mirror.keeps("archived", "g", "t", 0, offset) for offset in range(4000)]
    assert not MirrorSettings.from_setting("off").keeps("archived", "g", "t", 0, 1)


def test_the_app_connects_the_mirror_listener_to_the_process_bus():
    listener = apps.get_app_config("django_sharegroups").mirror_listener
    assert isinstance(listener, MirrorListener)
    assert listener.process_started in events.listeners("process.started")


# -- processes and leases --------------------------------------------------------------------


class Holding(EffectConsumer):
    """Holds its records until the test lets go."""

    gate = threading.Event()

    def consume(self, messages):
        self.gate.wait(20)
        super().consume(messages)


def test_leases_and_the_process_are_mirrored_while_running_and_cleared_on_stop(broker, bus):
    name = "mirrored-leases"
    prepare(broker, name, partitions=2)
    produce(broker, name, numbered(6))
    consumer = type("Held", (Holding,), {"gate": threading.Event()})
    group = declare(name, consumer, concurrency=2, workers_per_consumer=3)
    with running([group], broker, bus=bus, **mirror_settings()) as runner:
        assert wait_until(lambda: Lease.objects.count() == 6, 60)
        process = ConsumerProcess.objects.get()
        assert (process.pid, process.status, process.threads) == (os.getpid(), "running", 2)
        assert process.share_groups == [name]
        threads = {listener.name for listener in runner.listeners}
        for lease in Lease.objects.all():
            assert lease.share_group == name and lease.topic == name
            assert lease.consumer_thread in threads
            assert lease.process_id == process.pk
            assert lease.delivery_count == 1
            assert lease.lock_deadline - lease.acquired_at == timedelta(seconds=30)
        first_beat = process.last_heartbeat
        assert wait_until(lambda: ConsumerProcess.objects.get().last_heartbeat > first_beat, 30), (
            "no heartbeat"
        )
        consumer.gate.set()
        assert wait_until(lambda: settled(broker, name), 60)
        assert wait_until(lambda: Lease.objects.count() == 0, 30), "settled leases stayed"
    process = ConsumerProcess.objects.get()
    assert process.status == "stopped"
    assert Lease.objects.count() == 0


def test_a_process_mirrors_only_its_oldest_max_leases(broker, bus):
    name = "mirrored-oldest-leases"
    prepare(broker, name, partitions=2)
    produce(broker, name, numbered(6))
    consumer = type("Held", (Holding,), {"gate": threading.Event()})
    group = declare(name, consumer, concurrency=2, workers_per_consumer=3)
    with running([group], broker, bus=bus, **mirror_settings(max_leases=4)) as runner:

        def held():
            return [lease for each in runner.listeners for lease in each.leases.oldest_leases()]

        assert wait_until(lambda: len(held()) == 6, 60)
        assert wait_until(lambda: Lease.objects.count() == 4, 60)
        mirrored = {(row.partition, row.offset) for row in Lease.objects.all()}
        left_out = [lease for lease in held() if (lease.partition, lease.offset) not in mirrored]
        kept = [lease for lease in held() if (lease.partition, lease.offset) in mirrored]
        assert len(left_out) == 2 and len(kept) == 4
        newest_kept = max(lease.acquired_at for lease in kept)
        assert newest_kept <= min(lease.acquired_at for lease in left_out)
        consumer.gate.set()
        assert wait_until(lambda: settled(broker, name), 60)
        assert wait_until(lambda: Lease.objects.count() == 0, 30)


def test_nothing_is_mirrored_when_mirroring_is_off(broker):
    name = "not-mirrored"
    prepare(broker, name)
    produce(broker, name, numbered(3))
    listener = MirrorListener()
    bus = EventBus()
    for event, callback in listener.subscriptions().items():
        bus.subscribe(event, callback)
    group = declare(name, EffectConsumer)
    with running(
        [group],
        broker,
        bus=bus,
        **mirror_settings(
            **dict.fromkeys(("processes", "leases", "dead_letters", "archived", "rollups"), "off")
        ),
    ):
        assert listener.reporter is None
        assert wait_until(lambda: settled(broker, name), 60)
    assert ConsumerProcess.objects.count() == 0 and Lease.objects.count() == 0


def test_stale_processes_are_told_by_heartbeat_age():
    alive = ConsumerProcessFactory()
    dead = ConsumerProcessFactory(stale=True)
    stopped = ConsumerProcessFactory(stale=True, status="stopped")
    max_age = timedelta(seconds=30)
    assert not alive.is_stale(max_age)
    assert dead.is_stale(max_age)
    assert not stopped.is_stale(max_age)
    LeaseFactory(process=dead)
    assert Lease.objects.filter(process__last_heartbeat__lt=timezone.now() - max_age).count() == 1


# -- dead letters and archived records -------------------------------------------------------


def dlq_event(offset: int, payload: bytes | None = b'{"order": 1}', **extra) -> dict:
    return {
        "share_group": "orders",
        "topic": "orders",
        "partition": 1,
        "offset": offset,
        "key": b"k",
        "headers": [("trace", b"\x00\xff"), ("empty", None)],
        "payload": payload,
        "delivery_count": 3,
        "error_class": "ValueError",
        "error_message": "bad order",
        "dlq_topic": "orders-dlq",
        "dlq_partition": 0,
        "dlq_offset": 40 + offset,
        **extra,
    }


def archived_event(offset: int, **extra) -> dict:
    return {
        "share_group": "orders",
        "topic": "orders",
        "partition": 0,
        "offset": offset,
        "delivery_count": 5,
        "reason": "delivery_limit",
        "error": None,
        **extra,
    }


def test_published_dead_letters_and_archived_records_become_rows(broker, bus):
    name = "events-only"
    prepare(broker, name)
    group = declare(name, EffectConsumer)
    with running([group], broker, bus=bus, **mirror_settings(payload_limit=8)):
        bus.publish("dlq.dispatched", **dlq_event(1))
        bus.publish("dlq.dispatched", **dlq_event(2, payload=None, error_class=None))
        bus.publish("record.archived", **archived_event(7))
        bus.publish("record.archived", **archived_event(8, reason="rejected", error="E: x"))
        bus.publish("record.archived", **archived_event(8, reason="rejected", error="E: y"))
        assert wait_until(lambda: DeadLetter.objects.count() == 2, 60)
        assert wait_until(lambda: ArchivedRecord.objects.count() == 2, 60)
    first = DeadLetter.objects.get(offset=1)
    assert bytes(first.payload) == b'{"order"'  # cut at payload_limit
    assert (first.payload_size, first.payload_truncated) == (12, True)
    assert bytes(first.key) == b"k"
    assert writers.decode_headers(first.headers) == [("trace", b"\x00\xff"), ("empty", None)]
    assert first.headers[0] == ["trace", base64.b64encode(b"\x00\xff").decode()]
    assert (first.dlq_topic, first.dlq_partition, first.dlq_offset) == ("orders-dlq", 0, 41)
    assert (first.error_class, first.error_message) == ("ValueError", "bad order")
    second = DeadLetter.objects.get(offset=2)
    assert (second.payload, second.payload_size, second.error_class) == (None, 0, "")
    rejected = ArchivedRecord.objects.get(offset=8)
    assert (rejected.reason, rejected.error) == ("rejected", "E: y")  # the last event wins
    assert ArchivedRecord.objects.get(offset=7).error == ""


def test_records_the_engine_archives_are_mirrored(broker, bus):
    class Rejecting(EffectConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_rejected(message)

    name = "engine-archived"
    prepare(broker, name)
    produce(broker, name, numbered(4))
    group = declare(name, Rejecting)
    with running([group], broker, bus=bus, **mirror_settings()):
        assert wait_until(lambda: settled(broker, name), 60)
        assert wait_until(lambda: ArchivedRecord.objects.count() == 4, 60)
    assert set(ArchivedRecord.objects.values_list("reason", flat=True)) == {"rejected"}


def test_sampled_kinds_keep_only_their_sample(broker, bus):
    settings = mirror_settings(archived="sampled", sample_rate=0.3)
    name = "sampled"
    prepare(broker, name)
    group = declare(name, EffectConsumer)
    with running([group], broker, bus=bus, **settings):
        for offset in range(300):
            bus.publish("record.archived", **archived_event(offset))
    expected = {
        o for o in range(300) if settings["mirror"].keeps("archived", "orders", "orders", 0, o)
    }
    assert set(ArchivedRecord.objects.values_list("offset", flat=True)) == expected
    assert 45 <= len(expected) <= 135


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    # what a dropped event costs is measured by ``python -m benchmarks.mirroring --queue-only``
    reporter = MirrorReporter([], MirrorSettings.from_setting({"queue_size": 5}))
    for offset in range(1000):
        reporter.record_archived(archived_event(offset))
    assert reporter.dropped == {"archived": 995, "dead_letters": 0}
    reporter.flush()
    assert ArchivedRecord.objects.count() == 5


def test_a_failed_write_is_retried_at_the_next_interval(monkeypatch):
    reporter = MirrorReporter([], MirrorSettings.from_setting({}))
    reporter.record_dead_letter(dlq_event(1))
    real = writers.upsert_dead_letters
    calls = []

    def flaky(events, limit):
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("database is down")
        return real(events, limit)

    monkeypatch.setattr(writers, "upsert_dead_letters", flaky)
    reporter.flush()
    assert DeadLetter.objects.count() == 0
    assert reporter.failures["dead_letters"] == 1
    reporter.flush()
    assert DeadLetter.objects.count() == 1
    assert calls == [1, 1]
    assert reporter.written["dead_letters"] == 1


class FakeRunner:
    def __init__(self, mirror: MirrorSettings) -> None:
        self.listeners = []
        self.settings = ShareGroupsSettings(client="memory", mirror=mirror)


@pytest.mark.parametrize("mode", ["full", "off"])
def test_records_dead_lettered_before_process_started_are_not_lost(mode):
    listener = MirrorListener()
    bus = EventBus()
    for event, callback in listener.subscriptions().items():
        bus.subscribe(event, callback)
    bus.publish("consumer.started", share_group="orders", client_id="c-0")
    bus.publish("dlq.dispatched", **dlq_event(1))  # the first listener is already consuming
    bus.publish("record.archived", **archived_event(1))
    bus.publish("process.started", runner=FakeRunner(MirrorSettings.from_setting(mode)))
    bus.publish(
        "process.shutdown",
        clean=True,
        still_running=[],
        listeners=0,
        restarts=0,
        failed=[],
        group_down=None,
        exit_code=0,
    )
    expected = 1 if mode == "full" else 0
    assert (DeadLetter.objects.count(), ArchivedRecord.objects.count()) == (expected, expected)
    assert listener._early is None  # nothing is kept once the runner is known


def test_events_without_a_starting_runner_are_not_kept():
    listener = MirrorListener()
    listener.dlq_dispatched("dlq.dispatched", dlq_event(1))
    assert listener._early is None and listener.reporter is None


def test_without_migrated_tables_the_reporter_says_so_once_and_mirrors_nothing(monkeypatch, caplog):
    from django.db import connection

    monkeypatch.setattr(connection.introspection, "table_names", lambda cursor=None: [])
    reporter = MirrorReporter([], MirrorSettings.from_setting({}))
    reporter.record_archived(archived_event(1))
    with caplog.at_level("WARNING", logger="django_sharegroups.mirroring"):
        reporter.flush()
        reporter.flush(final=True)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "run `manage.py migrate`" in warnings[0]
    assert "sharegroups_archivedrecord" in warnings[0].lower()
    assert ArchivedRecord.objects.count() == 0 and ConsumerProcess.objects.count() == 0


def test_an_undeserializable_record_is_archived_with_the_decoders_error(broker, bus):
    name = "undecodable"
    prepare(broker, name)
    broker.produce(name, b"{not json")
    broker.produce(name, b'{"n": 1}')
    group = declare(name, EffectConsumer, topic_options={"deserializer": "json"})
    with running([group], broker, bus=bus, **mirror_settings()):
        assert wait_until(lambda: settled(broker, name), 60)
        assert wait_until(lambda: ArchivedRecord.objects.exclude(error="").exists(), 60)
    row = ArchivedRecord.objects.get()
    assert (row.offset, row.reason) == (0, "rejected")
    assert "JSONDecodeError" in row.error or "Expecting" in row.error, row.error
