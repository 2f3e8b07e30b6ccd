"""Connection settings from librdkafka-style dicts."""

from __future__ import annotations

import pytest

from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.kafka.config import ConnectionConfig, parse_bootstrap_servers


def test_consumer_settings_are_accepted_as_they_are() -> None:
    config = ConnectionConfig.from_dict(
        {
            "bootstrap.servers": "k1:9093,k2",
            "group.id": "ignored",
            "share.acknowledgement.mode": "explicit",
            "security.protocol": "sasl_ssl",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "u",
            "sasl.password": "p",
            "ssl.ca.location": "/etc/ca.pem",
            "ssl.endpoint.identification.algorithm": "none",
            "socket.timeout.ms": 5000,
            "client.id": "admin-ui",
        }
    )
    assert config.bootstrap_servers == (("k1", 9093), ("k2", 9092))
    assert config.uses_tls and config.uses_sasl
    assert config.sasl_mechanism == "SCRAM-SHA-512"
    assert config.ssl_ca_location == "/etc/ca.pem"
    assert config.ssl_check_hostname is False
    assert config.request_timeout == 5.0
    assert config.client_id == "admin-ui"


def test_defaults() -> None:
    config = ConnectionConfig.from_dict({"bootstrap.servers": "localhost:9092"})
    assert config.security_protocol == "PLAINTEXT"
    assert not config.uses_tls and not config.uses_sasl
    assert config.ssl_check_hostname and config.ssl_verify_certificate


@pytest.mark.parametrize(
    ("servers", "parsed"),
    [
        ("PLAINTEXT://b:1", (("b", 1),)),
        ("[::1]:9093, [fe80::1]", (("::1", 9093), ("fe80::1", 9092))),
        (["a:1", "b:2"], (("a", 1), ("b", 2))),
    ],
)
def test_bootstrap_servers(servers, parsed) -> None:
    assert parse_bootstrap_servers(servers) == parsed


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"bootstrap.servers": "a:notaport"},
        {"bootstrap.servers": " , "},
        {"bootstrap.servers": "a", "security.protocol": "carrier-pigeon"},
        {"bootstrap.servers": "a", "security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"},
        {"bootstrap.servers": "a", "socket.timeout.ms": "soon"},
    ],
)
def test_bad_settings_are_configuration_errors(settings) -> None:
    with pytest.raises(ConfigurationError):
        ConnectionConfig.from_dict(settings)
