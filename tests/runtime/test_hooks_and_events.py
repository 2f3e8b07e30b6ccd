"""What the runtime promises every consumer and every event subscriber (docs/routing.md,
docs/events.md): the ``shutdown()`` hook, ``consumer.started`` / ``consumer.stopped`` /
``consumer.error`` per instance, and ``process.quiet``."""

from __future__ import annotations

import threading

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.memory import MemoryClientFactory
from django_sharegroups.instrumentation import EventBus

from ..helpers import declare, events_of, prepare, produce, running, settled, wait_for


@pytest.mark.parametrize("workers_per_consumer", [1, 3])
def test_shutdown_is_called_once_per_consumer_instance_in_its_thread_when_it_stops(
    memory_broker, workers_per_consumer
):
    prepare(memory_broker, "hooked", partitions=2)
    produce(memory_broker, "hooked", ({"n": n} for n in range(40)))
    lock = threading.Lock()
    worked: set[tuple[int, str]] = set()
    shut: list[tuple[int, str]] = []

    class Hooked(ShareGroupConsumer):
        def consume(self, messages):
            with lock:
                worked.add((id(self), threading.current_thread().name))
            for message in messages:
                self.mark_accepted(message)

        def shutdown(self):
            with lock:
                shut.append((id(self), threading.current_thread().name))

    group = declare("hooked", Hooked, concurrency=2, workers_per_consumer=workers_per_consumer)
    with running([group], memory_broker):
        wait_for(lambda: settled(memory_broker, "hooked", partitions=2))
        assert shut == []  # not before the threads stop
    assert worked  # the instances (consumer or worker threads) that ran jobs...
    assert sorted(shut) == sorted(worked)  # ...each shut down once, in its own thread


def test_a_failing_shutdown_hook_is_logged_and_stops_nothing_else(memory_broker, caplog):
    prepare(memory_broker, "failing-hook", partitions=2)
    produce(memory_broker, "failing-hook", ({"n": n} for n in range(20)))
    instances: set[int] = set()

    class FailingHook(ShareGroupConsumer):
        def consume(self, messages):
            instances.add(id(self))
            for message in messages:
                self.mark_accepted(message)

        def shutdown(self):
            raise RuntimeError("hook broke")

    group = declare("failing-hook", FailingHook, concurrency=2)
    with running([group], memory_broker):  # exit code 0: a failing hook loses no listener
        wait_for(lambda: settled(memory_broker, "failing-hook", partitions=2))
    failures = [r for r in caplog.records if "shutdown() failed" in r.getMessage()]
    assert len(failures) == len(instances) >= 1
    assert all(r.exc_info[0] is RuntimeError for r in failures)


def test_each_instance_publishes_consumer_started_and_consumer_stopped(memory_broker):
    prepare(memory_broker, "lifecycle")
    bus = EventBus()
    started, stopped = events_of(bus, "consumer.started"), events_of(bus, "consumer.stopped")
    with running([declare("lifecycle", ShareGroupConsumer, concurrency=3)], memory_broker, bus=bus):
        assert len(started) == 3  # start() returns once every instance has joined
        assert stopped == []
    assert len(stopped) == 3
    assert {e["share_group"] for e in started + stopped} == {"lifecycle"}
    client_ids = {e["client_id"] for e in started}
    assert len(client_ids) == 3 and client_ids == {e["client_id"] for e in stopped}
    assert all(cid.endswith(f"-lifecycle-{i}") for i, cid in enumerate(sorted(client_ids)))


class FailingFactory(MemoryClientFactory):
    """The memory adapter, but creating a member fails (as a broker refusing it would)."""

    def create(self, group_id, *, client_id, overrides=None):
        raise ConnectionError("GROUP_AUTHORIZATION_FAILED: simulated")


def test_an_instance_that_cannot_start_publishes_consumer_failed_and_the_exit_code_says_so(
    memory_broker,
):
    prepare(memory_broker, "refused")
    bus = EventBus()
    # the engine reports an instance that cannot start as consumer.failed (and exits 1)
    errors, started = events_of(bus, "consumer.failed"), events_of(bus, "consumer.started")
    group = declare("refused", ShareGroupConsumer)
    factories = {"memory": FailingFactory(memory_broker)}
    with running([group], memory_broker, bus=bus, factories=factories, expect_exit=1) as runner:
        assert [listener.startup_error is not None for listener in runner.listeners] == [True]
    assert started == []
    [error] = errors
    assert error["share_group"] == "refused"
    assert isinstance(error["exception"], ConnectionError)
    assert "GROUP_AUTHORIZATION_FAILED" in str(error["error"])


def test_run_exits_non_zero_when_an_instance_cannot_start(memory_broker):
    from django_sharegroups.conf import ShareGroupsSettings
    from django_sharegroups.runtime.runner import ShareConsumerRunner

    prepare(memory_broker, "refused-run")
    runner = ShareConsumerRunner(
        [declare("refused-run", ShareGroupConsumer)],
        settings=ShareGroupsSettings(client="memory", poll_timeout=0.05, shutdown_timeout=5),
        factories={"memory": FailingFactory(memory_broker)},
        bus=EventBus(),
    )
    assert runner.run(handle_signals=False) != 0


def test_quiet_publishes_process_quiet_and_stops_polling_but_not_the_running_job(
    memory_broker,
):
    prepare(memory_broker, "quieted")
    produce(memory_broker, "quieted", [{"n": 0}])
    bus = EventBus()
    quiet = events_of(bus, "process.quiet")
    polls = events_of(bus, "poll")
    in_job, release = threading.Event(), threading.Event()
    done = []

    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            in_job.set()
            release.wait(30)
            for message in messages:
                self.mark_accepted(message)
                done.append(message.offset)

    with running([declare("quieted", Slow, concurrency=2)], memory_broker, bus=bus) as runner:
        assert in_job.wait(30)
        runner.quiet()
        assert quiet == [{"listeners": 2}]
        release.set()
        assert runner.join(30)  # the listeners finish their job and stop polling
        polled = len(polls)
        produce(memory_broker, "quieted", [{"n": 1}])
        assert not runner.exit_event.is_set()  # the process stays up
    assert done == [0]
    assert len(polls) == polled  # nothing polled after quiet
