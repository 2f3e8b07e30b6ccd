"""The record matchers users get (``sharegroups_run``): each outcome is told apart, and a
failed expectation tells the record's story."""

from __future__ import annotations

import threading

import pytest

from django_sharegroups import ShareGroupConsumer, share_group, topic
from django_sharegroups.clients.memory import ManualClock
from django_sharegroups.routing import RouteRegistry


class ByPayload(ShareGroupConsumer):
    """Does what each record's payload says."""

    def consume(self, messages):
        for message in messages:
            action = message.payload["do"]
            if action == "accept":
                self.mark_accepted(message)
            elif action == "reject":
                self.mark_rejected(message)
            elif action == "release":
                self.mark_released(message)
            elif action == "release-later":
                if message.delivery_count == 1:
                    self.mark_released(message, delay=200)
                else:
                    self.mark_accepted(message)
            elif action == "retry-once":
                if message.delivery_count == 1:
                    self.mark_released(message)
                else:
                    self.mark_accepted(message)
            elif action == "extend":
                self.extend_lock(message)
                self.mark_accepted(message)
            elif action == "dead-letter":
                self.dispatch_to_dlq(message, ValueError("bad amount"))


def declare(name: str, **topic_options) -> object:
    return share_group(
        name,
        workers_per_consumer=2,
        topics=[topic(name, consumer=ByPayload, **topic_options)],
        registry=RouteRegistry(),
    )


def test_each_outcome_is_told_apart(sharegroups_run, sharegroups_broker) -> None:
    sharegroups_broker.create_topic("outcomes-dlq", 1)
    # max_retries above the delivery limit: only dispatch_to_dlq dead-letters here.
    dlq = {"topic": "outcomes-dlq", "max_retries": 10}
    run = sharegroups_run(declare("outcomes", dead_letter_queue=dlq))
    accepted = run.produce({"do": "accept"})
    rejected = run.produce({"do": "reject"})
    archived = run.produce({"do": "release"})
    retried = run.produce({"do": "retry-once"})
    delayed = run.produce({"do": "release-later"})
    extended = run.produce({"do": "extend"})
    dead = run.produce({"do": "dead-letter"})
    run.until_settled()

    run.assert_accepted(accepted)
    run.assert_rejected(rejected)
    run.assert_archived(archived, reason="DELIVERY_COUNT_EXCEEDED")
    run.assert_released(archived, times=5)  # Kafka's default delivery-count limit
    run.assert_released(retried, times=1)
    run.assert_accepted(retried)
    run.assert_released(delayed, times=1, delay_ms=200)
    run.assert_accepted(delayed)
    run.assert_lock_extended(extended, times=1)
    run.assert_accepted(extended)
    run.assert_dead_lettered(dead, topic="outcomes-dlq")
    assert run.story(retried).steps == ["delivered #1", "RELEASE", "delivered #2", "ACCEPT"]


def test_a_failed_expectation_tells_the_story(sharegroups_run) -> None:
    run = sharegroups_run(declare("stories"))
    ref = run.produce({"do": "reject"})
    other = run.produce({"do": "accept"})
    run.until_settled()
    with pytest.raises(AssertionError) as failure:
        run.assert_accepted(ref)
    message = str(failure.value)
    assert f"{ref} was expected to be accepted, but it is rejected" in message
    assert "delivered #1 → REJECT → archived (REJECTED)" in message
    assert f"{other}: delivered #1 → ACCEPT" in message  # the other records, for context
    with pytest.raises(AssertionError, match="expected to be released 2"):
        run.assert_released(ref, times=2)


def test_lock_expiry_follows_the_manual_clock(sharegroups_run) -> None:
    started, finish = threading.Event(), threading.Event()

    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            started.set()
            finish.wait(10)
            for message in messages:
                self.mark_accepted(message)

    group = share_group(
        "slow", topics=[topic("slow", consumer=Slow, auto_renew=False)], registry=RouteRegistry()
    )
    run = sharegroups_run(group, clock=ManualClock())
    ref = run.produce(b"{}")
    assert started.wait(10)
    assert run.story(ref).outcome == "in_flight"
    run.advance(31)  # past Kafka's default 30 s lock: the broker takes the record back
    run.until(lambda: "lock expired" in run.story(ref).steps)
    finish.set()
    run.until(lambda: run.story(ref).deliveries == 2)
    run.until_settled()
    assert run.story(ref).steps[:2] == ["delivered #1", "lock expired"]
    run.assert_accepted(ref)


def test_until_settled_reports_the_records_when_it_times_out(sharegroups_run) -> None:
    block = threading.Event()

    class Stuck(ShareGroupConsumer):
        def consume(self, messages):
            block.wait(5)
            for message in messages:
                self.mark_accepted(message)

    run = sharegroups_run(
        share_group(
            "stuck-run", topics=[topic("stuck-run", consumer=Stuck)], registry=RouteRegistry()
        )
    )
    ref = run.produce(b"{}")
    try:
        with pytest.raises(AssertionError) as failure:
            run.until_settled(timeout=0.3)
        assert "'stuck-run' did not settle within 0.3s" in str(failure.value)
        assert f"\n  {ref}: delivered #1" in str(failure.value)
    finally:
        block.set()
