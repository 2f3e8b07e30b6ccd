"""mTLS and SASL_SSL (SCRAM) against the real Kafka 4.4 test broker, for the three clients a
project uses: the ``native`` share consumer, the ``confluent`` one (librdkafka) and the
project's admin client. The broker's SSL listener (port + 3) requires a client certificate;
its SASL_SSL listener (port + 4) takes the SCRAM users; ``tests/services/tls.py`` made the
certificates when the broker started."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from django_sharegroups.clients.base import AcknowledgeType, ShareConsumerClientFactory
from django_sharegroups.clients.confluent import ConfluentClientFactory
from django_sharegroups.clients.native import NativeClientFactory
from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.kafka.errors import KafkaConnectionError, SaslAuthenticationFailedError
from tests.helpers import produce
from tests.services import kafka as kafka_service
from tests.services import require_or_skip

FACTORIES: dict[str, Callable[[dict], ShareConsumerClientFactory]] = {
    "native": NativeClientFactory,
    "confluent": ConfluentClientFactory,
}


@pytest.fixture(scope="module")
def tls_broker(kafka_bootstrap_servers: str) -> kafka_service.KafkaBroker:
    port = int(kafka_bootstrap_servers.rsplit(":", 1)[1])
    broker = kafka_service.KafkaBroker(port)
    if not broker.tls.exist():
        require_or_skip("kafka", f"the test broker has no TLS listeners ({broker.tls.directory})")
    return broker


def security(broker: kafka_service.KafkaBroker, kind: str) -> dict[str, Any]:
    """Client settings (librdkafka keys) for ``mtls`` or ``sasl_ssl``."""
    tls = broker.tls
    if kind == "mtls":
        return {
            "bootstrap.servers": f"127.0.0.1:{broker.ssl_port}",
            "security.protocol": "SSL",
            "ssl.ca.location": str(tls.ca),
            "ssl.certificate.location": str(tls.client_certificate),
            "ssl.key.location": str(tls.client_key),
        }
    return {
        "bootstrap.servers": f"127.0.0.1:{broker.sasl_ssl_port}",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(tls.ca),
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "bob",
        "sasl.password": "bob-secret",
    }


@pytest.mark.parametrize("kind", ["mtls", "sasl_ssl"])
@pytest.mark.parametrize("client", ["native", "confluent"])
def test_a_share_consumer_reads_over_tls(
    tls_broker, kafka_bootstrap_servers, kafka_topic, share_group_config, client, kind
) -> None:
    name = kafka_topic(1, prefix=f"tls-{client}")
    share_group_config(name, {"share.auto.offset.reset": "earliest"})
    produce(kafka_bootstrap_servers, name, [b"secret-%d" % i for i in range(5)])
    settings = security(tls_broker, kind)
    member = FACTORIES[client](settings).create(name, client_id=f"tls-{client}")
    values = []
    try:
        member.subscribe([name])
        deadline = time.monotonic() + 30
        while len(values) < 5 and time.monotonic() < deadline:
            records = member.poll(10, 0.5)
            for record in records:
                member.acknowledge(record, AcknowledgeType.ACCEPT)
            if records:
                assert member.commit_sync(10) == []
            values += [record.value for record in records]
    finally:
        member.close()
    assert sorted(values) == [b"secret-%d" % i for i in range(5)]
    with ShareGroupAdmin(settings) as admin:
        assert name in {group.group_id for group in admin.list_share_groups()}
        assert admin.describe_share_group(name).group_id == name


def test_the_ssl_listener_refuses_a_client_without_a_certificate(tls_broker) -> None:
    settings = security(tls_broker, "mtls")
    del settings["ssl.certificate.location"], settings["ssl.key.location"]
    with pytest.raises(KafkaConnectionError, match="certificate"):
        with ShareGroupAdmin(settings) as admin:
            admin.finalized_features()


def test_sasl_ssl_refuses_a_wrong_password(tls_broker) -> None:
    settings = {**security(tls_broker, "sasl_ssl"), "sasl.password": "wrong"}
    with pytest.raises(SaslAuthenticationFailedError, match="SASL_AUTHENTICATION_FAILED"):
        with ShareGroupAdmin(settings) as admin:
            admin.finalized_features()
