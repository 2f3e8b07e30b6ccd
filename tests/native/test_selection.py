"""Which adapter a project gets without choosing one: ``native`` on a broker that speaks
ShareFetch v2, ``confluent`` (with one log line saying why) on one that does not."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from django_sharegroups.clients import build_client_factory
from django_sharegroups.clients.selection import DefaultClientFactory
from django_sharegroups.conf import ShareGroupsSettings, get_settings
from tests.kafka.fake_broker import FakeBroker

SHARE_GROUP_HEARTBEAT, SHARE_FETCH, SHARE_ACKNOWLEDGE = 76, 78, 79


@pytest.mark.parametrize(
    "configured,environment,expected",
    [
        (None, "127.0.0.1:9092", "auto"),
        (None, None, "memory"),
        ("confluent", "127.0.0.1:9092", "confluent"),
        ("native", "127.0.0.1:9092", "native"),
    ],
)
def test_the_default_client(monkeypatch, configured, environment, expected) -> None:
    if environment:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", environment)
    else:
        monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with override_settings(SHAREGROUPS={"CLIENT": configured}):
        assert get_settings().client == expected


def default_factory(bootstrap: str, **kafka) -> DefaultClientFactory:
    settings = ShareGroupsSettings(client="auto", kafka={"bootstrap.servers": bootstrap, **kafka})
    factory = build_client_factory("auto", settings)
    assert isinstance(factory, DefaultClientFactory)
    return factory


def test_kafka_4_4_gets_native(kafka_bootstrap_servers, caplog) -> None:
    caplog.set_level(logging.INFO, logger="django_sharegroups.clients")
    factory = default_factory(kafka_bootstrap_servers)
    assert factory.client_class.name == "native"
    assert factory.create("g", client_id="c").name == "native"
    assert [r.getMessage() for r in caplog.records] == [
        "Share consumers use the 'native' client adapter (the default)"
    ]


def test_a_broker_without_sharefetch_v2_gets_confluent(caplog) -> None:
    caplog.set_level(logging.INFO, logger="django_sharegroups.clients")
    with FakeBroker() as broker:
        broker.api_versions.update({SHARE_GROUP_HEARTBEAT: (1, 1), SHARE_FETCH: (1, 1)})
        broker.api_versions[SHARE_ACKNOWLEDGE] = (1, 2)
        factory = default_factory(broker.bootstrap)
        assert factory.client_class.name == "confluent"
        assert factory.client_class.name == "confluent"  # asked once
        assert broker.connections == 1
    (line,) = [r for r in caplog.records]
    assert line.levelno == logging.WARNING
    assert "instead of 'native': the broker speaks ShareFetch up to v1; native needs v2+" in (
        line.getMessage()
    )


def test_a_broker_without_share_apis_gets_confluent(caplog) -> None:
    with FakeBroker() as broker:
        broker.api_versions.update({SHARE_GROUP_HEARTBEAT: (1, 1), SHARE_FETCH: (1, 2)})
        assert default_factory(broker.bootstrap).client_class.name == "confluent"
    assert "ShareAcknowledge not at all" in caplog.text


def test_a_security_mechanism_only_librdkafka_speaks_gets_confluent(caplog) -> None:
    factory = default_factory(
        "127.0.0.1:1", **{"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}
    )
    assert factory.client_class.name == "confluent"
    assert "sasl.mechanism 'GSSAPI' is not supported" in caplog.text
