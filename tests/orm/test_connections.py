"""Per-thread connection hygiene, measured on PostgreSQL through pg_stat_activity.

Every Django connection of the test gets a unique ``application_name``; a sampler thread counts
the server's backends with that name on a separate, plain psycopg connection (it is not one of
them). That counts exactly this process's connections, whoever else uses the server.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from urllib.parse import urlparse

import psycopg
import pytest
from django.db import Error, connection, connections

from django_sharegroups import AcknowledgeType
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.processing import connections as job_connections
from django_sharegroups.routing import RouteRegistry, share_group, topic
from tests.services import require_or_skip

from ..helpers import declare, events_of, prepare, produce, running, settled, wait_for
from .helpers import EffectConsumer, messages, numbered
from .models import Effect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

#: Connections beyond one per job thread that we tolerate (none are expected).
SLACK = 2


class BackendSampler(threading.Thread):
    """Counts backends named ``application_name`` every few milliseconds; keeps the peak."""

    def __init__(self, application_name: str) -> None:
        super().__init__(daemon=True)
        self.application_name = application_name
        self.peak = 0
        self.samples = 0
        self.errors = 0
        self._stop_event = threading.Event()

    def count(self) -> int:
        with self._connect() as conn:
            return self._count(conn)

    def _connect(self) -> psycopg.Connection:
        settings = connection.settings_dict
        return psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            password=settings["PASSWORD"],
            dbname=settings["NAME"],
            application_name="sharegroups-sampler",
            autocommit=True,  # pg_stat_activity is a per-transaction snapshot
        )

    def _count(self, conn: psycopg.Connection) -> int:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (self.application_name,),
        ).fetchone()
        return row[0]

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                with self._connect() as conn:
                    while not self._stop_event.is_set():
                        self.peak = max(self.peak, self._count(conn))
                        self.samples += 1
                        time.sleep(0.002)
            except psycopg.OperationalError:  # the server restarts in one test
                self.errors += 1
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


@pytest.fixture
def application_name(monkeypatch) -> str:
    """Name every new Django connection of this process uniquely (all threads share the dict)."""
    name = f"sharegroups-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    options = connections.settings["default"].setdefault("OPTIONS", {})
    monkeypatch.setitem(options, "application_name", name)
    connection.close()  # the test thread's next connection carries the name too
    return name


@pytest.fixture
def conn_max_age(request, monkeypatch) -> int:
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", request.param)
    connection.close()
    return request.param


@pytest.mark.parametrize("conn_max_age", [0, 600], indirect=True)
def test_ten_thousand_jobs_on_eight_threads_stay_within_eight_connections(
    broker, application_name, conn_max_age, record_property
):
    name = f"connections-{conn_max_age}"
    records = 10_000
    prepare(broker, name, partitions=4)
    produce(broker, name, numbered(records))
    group = declare(name, EffectConsumer, concurrency=2, workers_per_consumer=4)
    threads = group.concurrency * group.workers_per_consumer
    sampler = BackendSampler(application_name)
    sampler.start()
    try:
        with running([group], broker):
            assert wait_for(lambda: settled(broker, name), 240)
        assert wait_for(lambda: sampler.count() == 0, 60), "connections left after shutdown"
    finally:
        sampler.stop()
    record_property("peak_connections", sampler.peak)
    print(f"\nCONN_MAX_AGE={conn_max_age}: peak {sampler.peak} backends, {sampler.samples} samples")
    assert sampler.samples > 100
    assert 1 <= sampler.peak <= threads + SLACK
    assert Effect.objects.filter(share_group=name).count() == records


def _local_cluster():
    """The private test cluster, if it is the server DATABASE_URL points at."""
    from tests.services.postgres import PostgresCluster

    cluster = PostgresCluster()
    url = urlparse(os.environ.get("DATABASE_URL", ""))
    if not cluster.is_running() or url.port != cluster.port:
        require_or_skip(
            "postgres",
            "restarts only the private test cluster (tests/services/postgres.py), which "
            "DATABASE_URL does not point at",
        )
    return cluster


class SlowToFail(EffectConsumer):
    """A failing write takes a moment, as a real retry backoff would."""

    def consume(self, messages):
        try:
            super().consume(messages)
        except Error:  # OperationalError, InterfaceError
            time.sleep(0.3)
            raise


@pytest.mark.parametrize("conn_max_age", [0, 600], indirect=True)
def test_a_postgres_restart_costs_retries_not_threads(broker, application_name, conn_max_age):
    cluster = _local_cluster()
    name = f"restart-{conn_max_age}"
    records = 2_000
    prepare(broker, name, partitions=2, **{"share.delivery.count.limit": 10})
    produce(broker, name, numbered(records))
    group = declare(name, SlowToFail, concurrency=2, workers_per_consumer=2)
    bus = EventBus()
    errors = events_of(bus, "job.errored")
    done = lambda: Effect.objects.filter(share_group=name).count()  # noqa: E731
    with running([group], broker, bus=bus) as runner:
        assert wait_for(lambda: done() >= 200, 60)
        connection.close()
        cluster.stop()
        time.sleep(1.0)
        cluster.start()
        assert wait_for(lambda: settled(broker, name), 120)
        connection.close()
        assert all(listener.is_alive() for listener in runner.listeners)
        workers = [t for listener in runner.listeners for t in listener.pool._threads]
        assert workers and all(worker.is_alive() for worker in workers)
    assert errors, "the restart was expected to fail some jobs"
    print(f"\nrestart (CONN_MAX_AGE={conn_max_age}): {len(errors)} failed job(s), retried")
    assert all(isinstance(e["exception"], Error) for e in errors), errors[:3]
    effects = set(Effect.objects.filter(share_group=name).values_list("partition", "offset"))
    assert len(effects) == records, "records were lost instead of retried"
    connection.close()  # the test thread's own connection is not the runner's to close
    assert wait_for(lambda: BackendSampler(application_name).count() == 0, 60)


@pytest.fixture
def health_checks(monkeypatch) -> list[str]:
    """Persistent connections with ``CONN_HEALTH_CHECKS`` on; returns the list each health
    check (``is_usable``) of a Django connection appends its alias to."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 600)
    connection.close()
    checks: list[str] = []
    wrapper = type(connections["default"])
    usable = wrapper.is_usable

    def counted(self):
        checks.append(self.alias)
        return usable(self)

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return checks


def _job(consumer, offset: int) -> dict:
    from django_sharegroups.processing.executor import execute_job

    acks = execute_job(consumer, messages(consumer.topic, [offset]), EventBus())
    return {message.offset: ack for message, ack in acks.items()}


@pytest.fixture
def effect_consumer():
    group = share_group(
        "health-checks", topics=[topic("health", consumer=EffectConsumer)], registry=RouteRegistry()
    )
    return EffectConsumer(group, group.topics[0])


def test_back_to_back_jobs_skip_the_health_check_django_does_per_request(
    health_checks, effect_consumer, monkeypatch
):
    """A thread's jobs following each other reuse the connection they just used without a
    ``SELECT 1`` each; once the thread was idle longer than ``RECHECK_AFTER`` the check is made
    (Django's per-request behaviour, measured here too so the test can fail)."""
    for offset in range(20):
        assert _job(effect_consumer, offset) == {offset: AcknowledgeType.ACCEPT}
    assert len(health_checks) <= 1, health_checks

    monkeypatch.setattr(job_connections, "RECHECK_AFTER", 0.0)
    health_checks.clear()
    for offset in range(20, 40):
        _job(effect_consumer, offset)
    assert len(health_checks) >= 19, "without the window every job checks, as Django does"
    assert Effect.objects.filter(share_group="health-checks").count() == 40


def test_an_idle_thread_checks_its_connection_and_replaces_a_dead_one(
    health_checks, effect_consumer, monkeypatch
):
    """The server dropped the connection while the thread was idle: the health check before
    the next job notices, and the job runs on a new connection instead of failing."""
    monkeypatch.setattr(job_connections, "RECHECK_AFTER", 0.05)
    assert _job(effect_consumer, 0) == {0: AcknowledgeType.ACCEPT}
    backend = connection.connection.info.backend_pid
    with BackendSampler("")._connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    time.sleep(0.1)
    assert _job(effect_consumer, 1) == {1: AcknowledgeType.ACCEPT}
    assert health_checks, "the idle connection was not checked"
    assert connection.connection.info.backend_pid != backend


def test_a_thread_without_an_open_connection_does_not_look_for_one(monkeypatch):
    """Jobs that never touch the database skip Django's per-thread connection lookup; one that
    opens a connection gets it tidied (closed after the job, as CONN_MAX_AGE=0 says)."""
    looks: list[str] = []
    real_all = connections.all

    def counting_all(*args, **kwargs):
        looks.append(threading.current_thread().name)
        return real_all(*args, **kwargs)

    monkeypatch.setattr(connections, "all", counting_all)
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    seen: dict[str, object] = {}

    def jobs() -> None:
        for _ in range(5):  # no database: one look (a thread not seen yet), then none
            job_connections.before_job()
            job_connections.after_job()
        seen["quiet"] = len(looks)
        job_connections.before_job()
        connections["default"].ensure_connection()  # the job uses the database
        job_connections.after_job()
        seen["closed"] = connections["default"].connection is None
        seen["after"] = len(looks)
        job_connections.before_job()
        job_connections.after_job()
        seen["again"] = len(looks)

    thread = threading.Thread(target=jobs, name="tidy-probe")
    thread.start()
    thread.join(30)
    assert seen == {"quiet": 1, "closed": True, "after": 2, "again": 2}, seen


def test_a_connection_that_broke_while_opening_is_closed_after_the_job_it_failed(
    effect_consumer, monkeypatch
):
    """A server restarting can break a connection after Django assigned it but before it was
    set up (no ``connection_created`` signal): the job fails, and the next one must run on a
    new connection rather than on the closed one (seen in CI: a worker failed every job for
    35 s with "the connection is closed" until its records reached their delivery limit)."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 600)
    wrapper = type(connections["default"])
    set_up = wrapper.init_connection_state
    breaks = [True]

    def breaking(self):
        if breaks and threading.current_thread().name == "broken-open":
            breaks.clear()
            self.connection.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        set_up(self)

    monkeypatch.setattr(wrapper, "init_connection_state", breaking)
    outcomes: list[dict] = []

    def jobs() -> None:
        job_connections.before_job()
        job_connections.after_job()  # a thread with no connection open: no look next time
        for offset in range(3):
            outcomes.append(_job(effect_consumer, offset))
        connections["default"].close()

    thread = threading.Thread(target=jobs, name="broken-open")
    thread.start()
    thread.join(30)
    assert not breaks, "the connection never broke: the test did not run its case"
    assert outcomes == [
        {0: AcknowledgeType.RELEASE},
        {1: AcknowledgeType.ACCEPT},
        {2: AcknowledgeType.ACCEPT},
    ], outcomes
