"""Session-wide fixtures: a real Kafka 4.4 broker, librdkafka's mock cluster, PostgreSQL.

A test that needs a service nobody can provide here is skipped with the reason — unless
``SHAREGROUPS_REQUIRE_<SERVICE>=1`` is set (KAFKA, POSTGRES, BROWSER, OPENSSL; CI sets all),
which turns that skip into a failure so a broken service can never pass as "skipped".
``SHAREGROUPS_FORBID_SKIPS=1`` (CI) fails every other skip too.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` points the tests at a running broker; otherwise the
session starts one with ``tests/services/kafka.py`` (and stops it at the end if it started
it). PostgreSQL: ``DATABASE_URL`` (read by tests/settings.py) selects it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from django_sharegroups.clients.memory import MemoryBroker
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.testing.mock_cluster import MockCluster
from tests.services import kafka as kafka_service
from tests.services import require_or_skip

__all__ = ["require_or_skip"]  # re-exported for tests that check services themselves

#: Publishing an event that is not in instrumentation/catalog.py (or with another payload)
#: fails the test that does it.
EventBus.strict = True

SERVICE_MARKERS = {"kafka": "kafka_bootstrap_servers", "postgres": "postgres_database_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the services their fixtures use, so ``-m "not kafka"`` works, and every
    test that opens Django's test database as ``database`` (CI runs those once more on
    SQLite: ``-m "database and not postgres"`` without ``DATABASE_URL``)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker, fixture in SERVICE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)
        if "mock_cluster" in names:
            item.add_marker("mock_cluster")
        if "django_db_setup" in names or item.get_closest_marker("django_db") is not None:
            item.add_marker("database")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """``SHAREGROUPS_FORBID_SKIPS=1`` (CI): any skip, whatever raised it, is a failure — a
    run that needs a skip to be green is not green. Expected failures (xfail) stay."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("SHAREGROUPS_FORBID_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but SHAREGROUPS_FORBID_SKIPS=1 forbids skips: {reason}"


@pytest.fixture(autouse=True)
def _services_for_markers(request: pytest.FixtureRequest) -> None:
    """A test marked ``kafka`` or ``postgres`` gets that service (or its skip) automatically."""
    for marker, fixture in SERVICE_MARKERS.items():
        if request.node.get_closest_marker(marker) is not None:
            request.getfixturevalue(fixture)


# --- Kafka -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    """Bootstrap address of a real Apache Kafka 4.4 broker with share groups enabled."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    reason = kafka_service.unavailable_reason()
    if reason is not None:
        require_or_skip("kafka", reason)
    port = int(os.environ.get("SHAREGROUPS_KAFKA_PORT", kafka_service.DEFAULT_PORT))
    broker = kafka_service.KafkaBroker(port)
    started_here = broker.pid() is None
    try:
        broker.start()
    except Exception as error:  # noqa: BLE001 - any start failure means "no broker"
        require_or_skip("kafka", f"the test broker did not start: {error}")
    yield broker.bootstrap_servers
    if started_here:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_sasl_bootstrap_servers(kafka_bootstrap_servers: str) -> str:
    """The test broker's SASL_PLAINTEXT listener: users alice/alice-secret (PLAIN),
    bob/bob-secret (SCRAM-SHA-256), carol/carol-secret (SCRAM-SHA-512).

    ``SHAREGROUPS_KAFKA_SASL_BOOTSTRAP_SERVERS`` names it for a broker started elsewhere; a
    broker this session started has it two ports up."""
    configured = os.environ.get("SHAREGROUPS_KAFKA_SASL_BOOTSTRAP_SERVERS")
    if configured:
        return configured
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        require_or_skip(
            "kafka",
            "KAFKA_BOOTSTRAP_SERVERS names a broker started elsewhere; set "
            "SHAREGROUPS_KAFKA_SASL_BOOTSTRAP_SERVERS to its SASL_PLAINTEXT listener",
        )
    port = int(os.environ.get("SHAREGROUPS_KAFKA_PORT", kafka_service.DEFAULT_PORT))
    return kafka_service.KafkaBroker(port).sasl_bootstrap_servers


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap_servers})


@pytest.fixture
def kafka_topic(kafka_admin: AdminClient) -> Iterator[Callable[..., str]]:
    """``kafka_topic(partitions=1, prefix="test")`` creates a uniquely named topic.

    The topics a test created are deleted after it.
    """
    created: list[str] = []

    def create(partitions: int = 1, prefix: str = "test") -> str:
        created.append(kafka_service.create_topic(kafka_admin, partitions, prefix=prefix))
        return created[-1]

    yield create
    if created:
        for future in kafka_admin.delete_topics(created).values():
            future.exception(30)  # best effort; a leftover topic harms nobody


@pytest.fixture
def share_group_config(kafka_admin: AdminClient) -> Callable[..., None]:
    """``share_group_config(group, {"share.auto.offset.reset": "earliest", ...})``."""

    def alter(group: str, configs: dict[str, str | int]) -> None:
        kafka_service.alter_share_group_config(kafka_admin, group, configs)

    return alter


@pytest.fixture
def share_group_id(share_group_config: Callable[..., None]) -> str:
    """A fresh share group that starts at the earliest offset (Kafka's default is latest)."""
    group = kafka_service.unique_name("group")
    share_group_config(group, {"share.auto.offset.reset": "earliest"})
    return group


@pytest.fixture
def share_topic(
    kafka_topic: Callable[..., str], share_group_config: Callable[..., None]
) -> Callable[..., str]:
    """``share_topic(partitions=1, **group_configs)``: a fresh topic and a share group of the
    same name reading it from the earliest offset; underscores in a config's name stand for
    dots (``share_record_lock_duration_ms=1000``)."""

    def make(partitions: int = 1, **group_configs: str | int) -> str:
        name = kafka_topic(partitions, prefix="share")
        configs = {key.replace("_", "."): value for key, value in group_configs.items()}
        share_group_config(name, {"share.auto.offset.reset": "earliest", **configs})
        return name

    return make


# --- in-memory broker -------------------------------------------------------------------


@pytest.fixture
def memory_broker() -> MemoryBroker:
    """A fresh in-memory broker on real time whose groups accept 1 s locks (as the test
    broker does); ``tests.helpers.prepare`` makes a topic and its group."""
    return MemoryBroker(config={"group.share.min.record.lock.duration.ms": 1000})


@pytest.fixture
def broker(memory_broker: MemoryBroker) -> MemoryBroker:
    """``memory_broker`` under the name the engine and ORM tests use (nothing else is a
    ``broker`` fixture: the memory-broker unit tests use ``manual_broker``, the wire tests
    ``fake_broker``)."""
    return memory_broker


# --- librdkafka mock cluster -----------------------------------------------------------


@pytest.fixture
def mock_cluster() -> Iterator[MockCluster]:
    """A fresh one-broker mock cluster per test (it starts in milliseconds).

    Share groups on it start at the earliest offset and heartbeat every 500 ms (as on the
    test broker); call ``mock_cluster.set_share_group``
    to change that, the lock duration or the delivery count limit.
    """
    with MockCluster(brokers=1) as cluster:
        cluster.set_share_group(auto_offset_reset="earliest", heartbeat_interval_ms=500)
        yield cluster


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_database_url() -> str:
    """``DATABASE_URL`` when it names PostgreSQL; Django's settings already use it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        require_or_skip(
            "postgres",
            "DATABASE_URL is not a PostgreSQL URL; run "
            '`export DATABASE_URL="$(python -m tests.services.postgres start)"`',
        )
    return url


@pytest.fixture
def spans():
    """OpenTelemetry's in-memory exporter on the process-wide SDK provider, emptied
    (tests/tracing.py)."""
    from .tracing import tracing_exporter

    return tracing_exporter()
