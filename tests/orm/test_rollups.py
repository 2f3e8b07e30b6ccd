"""The per-minute rollup: counted from events, upserted per flush, one row per minute."""

from __future__ import annotations

from collections import Counter

import pytest

from django_sharegroups.mirroring import rollups
from django_sharegroups.mirroring.reporter import MirrorReporter
from django_sharegroups.mirroring.settings import MirrorSettings
from django_sharegroups.models import ThroughputMinute

from ..helpers import declare, prepare, produce, running, settled, wait_until
from .helpers import EffectConsumer, numbered
from .test_mirroring import archived_event, bus, dlq_event, mirror_settings  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

MINUTE = 29_000_000  # a minute number since the epoch (2025-02-20 09:20 UTC)


class Clock:
    def __init__(self, minute: int) -> None:
        self.now = minute * 60.0 + 5

    def __call__(self) -> float:
        return self.now


def reporter_at(clock: Clock, **mirror) -> MirrorReporter:
    reporter = MirrorReporter([], MirrorSettings.from_setting({"processes": "off", **mirror}))
    reporter.minutes = rollups.MinuteTally(clock)
    return reporter


def rows() -> dict[tuple[str, int], dict[str, int]]:
    return {
        (row.share_group, int(row.minute.timestamp() // 60)): {
            column: getattr(row, column) for column in rollups.COLUMNS if getattr(row, column)
        }
        for row in ThroughputMinute.objects.all()
    }


def test_counts_are_added_up_in_memory_and_upserted_once_per_flush(monkeypatch):
    clock = Clock(MINUTE)
    reporter = reporter_at(clock)
    monkeypatch.setattr(rollups.time, "time", clock)  # which minutes are still open
    reporter.record_acks("orders", {"ACCEPT": 3, "RELEASE": 1})
    reporter.record_acks("orders", {"ACCEPT": 2, "REJECT": 1, "RELEASE_DELAYED": 4})
    reporter.record_acks("payments", {"ACCEPT": 1})
    reporter.record_archived(archived_event(1))
    reporter.record_dead_letter(dlq_event(2))
    reporter.flush()
    assert rows() == {
        ("orders", MINUTE): {
            "accepted": 5,
            "released": 1,
            "rejected": 1,
            "archived": 1,
            "dead_lettered": 1,
        },
        ("payments", MINUTE): {"accepted": 1},
    }
    # The next flush in the same minute adds to the same row, not a second one.
    reporter.record_acks("orders", {"ACCEPT": 10})
    clock.now += 30
    reporter.record_acks("orders", {"ACCEPT": 1})
    reporter.flush()
    assert rows()[("orders", MINUTE)]["accepted"] == 16
    assert ThroughputMinute.objects.count() == 2
    # A new minute is a new row; the closed one keeps its total.
    clock.now += 60
    reporter.record_acks("orders", {"REJECT": 2})
    reporter.flush()
    assert rows()[("orders", MINUTE + 1)] == {"rejected": 2}
    assert rows()[("orders", MINUTE)]["accepted"] == 16
    minute = ThroughputMinute.objects.get(share_group="orders", rejected=2)
    assert minute.reporter == reporter.minute_totals.reporter
    assert reporter.written["rollups"] == 4


def test_a_flush_with_nothing_new_writes_nothing():
    reporter = reporter_at(Clock(MINUTE))
    reporter.flush()
    reporter.record_acks("orders", {"RELEASE_DELAYED": 3})  # not an outcome column
    reporter.flush()
    assert ThroughputMinute.objects.count() == 0
    assert reporter.written["rollups"] == 0


def test_a_failed_write_keeps_the_totals_for_the_next_flush(monkeypatch):
    reporter = reporter_at(Clock(MINUTE))
    real = rollups.write
    calls = []

    def flaky(totals):
        calls.append(sorted(totals.dirty))
        if len(calls) == 1:
            raise RuntimeError("database is down")
        return real(totals)

    monkeypatch.setattr(rollups, "write", flaky)
    reporter.record_acks("orders", {"ACCEPT": 4})
    reporter.flush()
    assert ThroughputMinute.objects.count() == 0 and reporter.failures["rollups"] == 1
    reporter.record_acks("orders", {"ACCEPT": 1})
    reporter.flush()
    assert rows() == {("orders", MINUTE): {"accepted": 5}}
    assert calls == [[("orders", MINUTE)], [("orders", MINUTE)]]


def test_two_reporters_write_their_own_rows_and_readers_sum_them():
    first, second = reporter_at(Clock(MINUTE)), reporter_at(Clock(MINUTE))
    first.record_acks("orders", {"ACCEPT": 2})
    second.record_acks("orders", {"ACCEPT": 3})
    first.flush()
    second.flush()
    assert ThroughputMinute.objects.count() == 2
    assert sum(ThroughputMinute.objects.values_list("accepted", flat=True)) == 5


def test_closed_minutes_are_forgotten_by_the_reporter():
    totals = rollups.MinuteTotals()
    totals.merge({("orders", MINUTE): [1, 0, 0, 0, 0], ("orders", MINUTE + 5): [0, 0, 0, 0, 0]})
    assert set(totals.totals) == {("orders", MINUTE)}  # an empty count is not a row
    totals.written(now=(MINUTE + rollups.OPEN_MINUTES) * 60.0)
    assert set(totals.totals) == {("orders", MINUTE)}
    totals.written(now=(MINUTE + rollups.OPEN_MINUTES + 1) * 60.0)
    assert totals.totals == {}


def test_rollups_off_counts_nothing_and_leaves_the_table_alone():
    reporter = reporter_at(Clock(MINUTE), rollups="off")
    reporter.record_acks("orders", {"ACCEPT": 2})
    reporter.record_archived(archived_event(1))
    reporter.flush()
    assert ThroughputMinute.objects.count() == 0


class Mixed(EffectConsumer):
    """Accepts even numbers, rejects multiples of 3 that are odd, releases the others once."""

    def consume(self, messages):
        for message in messages:
            n = message.payload["n"]
            if n % 2 == 0:
                self.mark_accepted(message)
            elif n % 3 == 0:
                self.mark_rejected(message)
            elif message.delivery_count == 1:
                self.mark_released(message)
            else:
                self.mark_accepted(message)


def test_a_run_writes_the_outcomes_of_its_acknowledgements(broker, bus):  # noqa: F811
    name = "rolled-up"
    prepare(broker, name)
    produce(broker, name, numbered(12))  # accepted 0,2,4,6,8,10 and 1,5,7,11 on redelivery
    group = declare(name, Mixed)
    with running([group], broker, bus=bus, **mirror_settings()):
        # generous: a loaded 2-core machine (CI with a CPU hog beside it); waits end early
        assert wait_until(lambda: settled(broker, name), 60)

        def totals() -> dict[str, int]:
            found: Counter[str] = Counter()
            for row in ThroughputMinute.objects.filter(share_group=name):
                found.update({column: getattr(row, column) for column in rollups.COLUMNS})
            return dict(+found)

        expected = {"accepted": 10, "released": 4, "rejected": 2, "archived": 2}
        assert wait_until(lambda: totals() == expected, 60), totals()


def test_acknowledgements_sent_before_the_runner_has_started_are_counted():
    """Listeners consume as soon as they join, before ``process.started`` creates the
    reporter: the counts of that moment are kept and handed over, not lost."""
    from types import SimpleNamespace

    from django_sharegroups.conf import ShareGroupsSettings
    from django_sharegroups.instrumentation import EventBus
    from django_sharegroups.mirroring.listeners import connect, disconnect

    early_bus = EventBus()
    listener = connect(early_bus)
    try:
        early_bus.publish("consumer.started", share_group="early", client_id="c-0")
        assert early_bus.wants("acks.sent"), "counted while the runner is starting"
        early_bus.publish("acks.sent", share_group="early", topic="t", counts={"ACCEPT": 3})
        early_bus.publish("acks.sent", share_group="early", topic="t", counts={"REJECT": 1})
        mirror = MirrorSettings.from_setting({"processes": "off", "leases": "off"})
        settings = ShareGroupsSettings(client="memory", mirror=mirror)
        runner = SimpleNamespace(listeners=[], settings=settings)
        early_bus.publish("process.started", runner=runner)
        early_bus.publish("acks.sent", share_group="early", topic="t", counts={"ACCEPT": 1})
        assert listener.reporter is not None
        listener.reporter.flush()
        [counted] = [v for (group, _), v in rows().items() if group == "early"]
        assert counted == {"accepted": 4, "rejected": 1}
    finally:
        early_bus.publish("process.shutdown", **shutdown_payload())
        disconnect(early_bus, listener)


def shutdown_payload() -> dict:
    return {
        "clean": True,
        "still_running": [],
        "listeners": 0,
        "restarts": 0,
        "failed": [],
        "group_down": None,
        "exit_code": 0,
    }
