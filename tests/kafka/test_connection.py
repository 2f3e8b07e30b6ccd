"""Connections against a scripted fake broker: negotiation, timeouts, broken and lying peers,
reconnects, SASL and TLS. Nothing here may hang: every failure must surface within the
configured timeouts."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from django_sharegroups.kafka.backoff import JITTER
from django_sharegroups.kafka.cluster import Cluster
from django_sharegroups.kafka.config import ConnectionConfig
from django_sharegroups.kafka.connection import BrokerConnection
from django_sharegroups.kafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    ProtocolError,
    SaslAuthenticationFailedError,
    UnsupportedApiError,
    UnsupportedSaslMechanismError,
)
from django_sharegroups.kafka.protocol.messages import (
    API_VERSIONS,
    LIST_GROUPS,
    SASL_AUTHENTICATE,
    SASL_HANDSHAKE,
    SHARE_GROUP_DESCRIBE,
)

from .fake_broker import CloseConnection, FakeBroker, RawReply, ReceivedRequest, respond

FAST = {"socket.timeout.ms": 500, "socket.connection.setup.timeout.ms": 500}


def connection_to(broker: FakeBroker, **settings) -> BrokerConnection:
    config = ConnectionConfig.from_dict({"bootstrap.servers": broker.bootstrap, **FAST, **settings})
    return BrokerConnection("127.0.0.1", broker.port, config)


def list_groups_answer(request: ReceivedRequest) -> bytes:
    return respond(request, {"groups": [{"group_id": "g", "protocol_type": "share"}]})


@pytest.fixture
def broker():
    with FakeBroker() as fake:
        yield fake


def test_negotiates_the_highest_version_both_sides_speak(broker: FakeBroker) -> None:
    broker.api_versions[LIST_GROUPS.key] = (0, 4)
    broker.handlers[LIST_GROUPS.key] = list_groups_answer
    connection = connection_to(broker)
    assert connection.version_for(LIST_GROUPS) == 4
    response = connection.send(LIST_GROUPS, {"states_filter": ["Stable"]})
    assert response.groups[0].group_id == "g"
    assert broker.received[-1].version == 4
    assert broker.received[-1].client_id == "django-sharegroups"


def test_a_version_too_old_for_the_request_is_named(broker: FakeBroker) -> None:
    broker.api_versions[LIST_GROUPS.key] = (0, 4)
    connection = connection_to(broker)
    with pytest.raises(
        UnsupportedApiError, match=r"ListGroups \(api key 16\).*speaks versions 0-4"
    ):
        connection.send(LIST_GROUPS, {"types_filter": ["share"]}, minimum_version=5)


def test_a_missing_api_is_named(broker: FakeBroker) -> None:
    del broker.api_versions[SHARE_GROUP_DESCRIBE.key]
    with pytest.raises(UnsupportedApiError, match=r"ShareGroupDescribe \(api key 77\)") as caught:
        connection_to(broker).send(SHARE_GROUP_DESCRIBE, {"group_ids": ["g"]})
    assert caught.value.api_key == 77


def test_api_versions_falls_back_when_the_broker_answers_unsupported_version(
    broker: FakeBroker,
) -> None:
    def old_broker(request: ReceivedRequest) -> bytes:
        if request.version > 2:
            # Old brokers answer an unknown ApiVersions version in v0, listing what they speak.
            body = {"error_code": 35, "api_keys": [{"api_key": 18, "max_version": 2}]}
            return respond(dataclasses.replace(request, version=0), body)
        return broker.answer_api_versions(request)

    broker.handlers[API_VERSIONS.key] = old_broker
    connection = connection_to(broker)
    connection.connect()
    assert [request.version for request in broker.received] == [4, 2]
    assert connection.api_versions[SHARE_GROUP_DESCRIBE.key] == (1, 1)


def test_a_silent_broker_times_out_instead_of_hanging(broker: FakeBroker) -> None:
    broker.handlers[LIST_GROUPS.key] = lambda request: None
    connection = connection_to(broker)
    connection.connect()
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError):
        connection.send(LIST_GROUPS, {})
    assert time.monotonic() - started < 2
    assert not connection.connected


def test_a_silent_broker_times_out_during_the_handshake(broker: FakeBroker) -> None:
    broker.handlers[API_VERSIONS.key] = lambda request: None
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError):
        connection_to(broker).connect()
    assert time.monotonic() - started < 2


def test_a_broker_that_hangs_up_mid_frame_is_a_connection_error(broker: FakeBroker) -> None:
    broker.handlers[LIST_GROUPS.key] = lambda request: RawReply(
        (100).to_bytes(4, "big") + list_groups_answer(request)[:3]
    )
    with pytest.raises(KafkaConnectionError, match="closed the connection"):
        connection_to(broker).send(LIST_GROUPS, {})


@pytest.mark.parametrize("size", [-5, 0, 3, 2**31 - 1])
def test_an_implausible_size_prefix_is_a_protocol_error(broker: FakeBroker, size: int) -> None:
    broker.handlers[LIST_GROUPS.key] = lambda request: RawReply(
        size.to_bytes(4, "big", signed=True) + b"\x00" * 8
    )
    connection = connection_to(broker)
    with pytest.raises(ProtocolError, match="implausible response size"):
        connection.send(LIST_GROUPS, {})
    assert not connection.connected


def test_a_wrong_correlation_id_is_a_protocol_error(broker: FakeBroker) -> None:
    def wrong_id(request: ReceivedRequest) -> bytes:
        return list_groups_answer(
            dataclasses.replace(request, correlation_id=request.correlation_id + 1)
        )

    broker.handlers[LIST_GROUPS.key] = wrong_id
    connection = connection_to(broker)
    with pytest.raises(ProtocolError, match="correlation id"):
        connection.send(LIST_GROUPS, {})
    assert not connection.connected


def test_a_truncated_body_is_a_protocol_error(broker: FakeBroker) -> None:
    broker.handlers[LIST_GROUPS.key] = lambda request: list_groups_answer(request)[:-4]
    with pytest.raises(ProtocolError, match="ListGroups"):
        connection_to(broker).send(LIST_GROUPS, {})


def test_the_cluster_reconnects_after_a_dropped_connection(broker: FakeBroker) -> None:
    calls = []

    def flaky(request: ReceivedRequest) -> bytes:
        calls.append(request)
        if len(calls) == 1:
            raise CloseConnection()
        return list_groups_answer(request)

    broker.handlers[LIST_GROUPS.key] = flaky
    config = ConnectionConfig.from_dict({"bootstrap.servers": broker.bootstrap, **FAST})
    cluster = Cluster(config)
    try:
        response = cluster.request(LIST_GROUPS, {})
    finally:
        cluster.close()
    assert response.groups[0].group_id == "g"
    assert len(calls) == 2
    assert broker.connections == 2


def test_bootstrap_skips_unreachable_servers(broker: FakeBroker) -> None:
    broker.handlers[LIST_GROUPS.key] = list_groups_answer
    servers = f"127.0.0.1:1,{broker.bootstrap}"
    cluster = Cluster(ConnectionConfig.from_dict({"bootstrap.servers": servers, **FAST}))
    try:
        assert cluster.request(LIST_GROUPS, {}).groups[0].group_id == "g"
    finally:
        cluster.close()


def test_no_reachable_server_is_a_connection_error() -> None:
    cluster = Cluster(ConnectionConfig.from_dict({"bootstrap.servers": "127.0.0.1:1", **FAST}))
    with pytest.raises(KafkaConnectionError, match="no broker reachable"):
        cluster.request(LIST_GROUPS, {})


# -- SASL ------------------------------------------------------------------------------------

SASL = {
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "alice",
    "sasl.password": "alice-secret",
}


def sasl_broker(broker: FakeBroker, error_code: int = 0) -> None:
    broker.handlers[SASL_HANDSHAKE.key] = lambda request: respond(
        request,
        {
            "error_code": 0 if request.body.mechanism == "PLAIN" else 33,
            "mechanisms": ["PLAIN"],
        },
    )
    broker.handlers[SASL_AUTHENTICATE.key] = lambda request: respond(
        request,
        {"error_code": error_code, "error_message": "bad credentials" if error_code else None},
    )
    broker.handlers[LIST_GROUPS.key] = list_groups_answer


def test_sasl_plain_authenticates_before_the_first_request(broker: FakeBroker) -> None:
    sasl_broker(broker)
    connection = connection_to(broker, **SASL)
    assert connection.send(LIST_GROUPS, {}).groups
    keys = [request.api_key for request in broker.received]
    assert keys == [API_VERSIONS.key, SASL_HANDSHAKE.key, SASL_AUTHENTICATE.key, LIST_GROUPS.key]
    assert broker.received[2].body.auth_bytes == b"\0alice\0alice-secret"


def test_sasl_failure_carries_the_broker_message(broker: FakeBroker) -> None:
    sasl_broker(broker, error_code=58)
    with pytest.raises(SaslAuthenticationFailedError, match="bad credentials"):
        connection_to(broker, **SASL).connect()


def test_sasl_mechanism_not_enabled_names_the_enabled_ones(broker: FakeBroker) -> None:
    sasl_broker(broker)
    settings = {**SASL, "sasl.mechanism": "SCRAM-SHA-256"}
    with pytest.raises(UnsupportedSaslMechanismError, match="the broker enables PLAIN"):
        connection_to(broker, **settings).connect()


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_broker(certificate: tuple[Path, Path]) -> FakeBroker:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    broker = FakeBroker(ssl_context=context)
    broker.handlers[LIST_GROUPS.key] = list_groups_answer
    return broker


def test_tls_with_the_broker_ca(certificate: tuple[Path, Path]) -> None:
    with tls_broker(certificate) as broker:
        connection = connection_to(
            broker, **{"security.protocol": "SSL", "ssl.ca.location": str(certificate[0])}
        )
        assert connection.send(LIST_GROUPS, {}).groups[0].group_id == "g"
        connection.close()


def test_tls_refuses_an_unknown_ca(certificate: tuple[Path, Path]) -> None:
    with tls_broker(certificate) as broker:
        connection = connection_to(broker, **{"security.protocol": "SSL"})
        with pytest.raises(KafkaConnectionError, match="TLS handshake"):
            connection.connect()


def test_tls_verification_can_be_switched_off(certificate: tuple[Path, Path]) -> None:
    with tls_broker(certificate) as broker:
        settings = {"security.protocol": "SSL", "enable.ssl.certificate.verification": "false"}
        connection = connection_to(broker, **settings)
        assert connection.send(LIST_GROUPS, {}).groups
        connection.close()


def closed_port() -> int:
    """A local port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_socket_connected_to_itself_is_discarded(monkeypatch) -> None:
    """With nothing listening, a connect can get the destination port as its source port
    (TCP simultaneous open) and talk to itself; binding the source port provokes it."""
    port = closed_port()
    real_create_connection = socket.create_connection

    def same_source_and_destination(address, timeout=None, source_address=None):
        return real_create_connection(address, timeout, source_address=address)

    monkeypatch.setattr(socket, "create_connection", same_source_and_destination)
    config = ConnectionConfig.from_dict({"bootstrap.servers": f"127.0.0.1:{port}", **FAST})
    connection = BrokerConnection("127.0.0.1", port, config)
    with pytest.raises(KafkaConnectionError, match="connected to itself"):
        connection.connect()
    assert not connection.connected
    monkeypatch.undo()
    # The port is free again: a broker restarting there can bind it.
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_reconnecting_to_a_down_broker_backs_off(monkeypatch) -> None:
    port = closed_port()
    attempts = []
    real_create_connection = socket.create_connection

    def counted(address, *args, **kwargs):
        attempts.append(time.monotonic())
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    settings = {"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 400, **FAST}
    cluster = Cluster(
        ConnectionConfig.from_dict({"bootstrap.servers": f"127.0.0.1:{port}", **settings})
    )
    calls = 0
    deadline = time.monotonic() + 60
    while len(attempts) < 7 and time.monotonic() < deadline:
        calls += 1
        with pytest.raises(KafkaConnectionError, match="Connection refused"):
            cluster.request(LIST_GROUPS, {})
    assert len(attempts) == 7
    # Calls in the backoff window fail at once, naming the last error, without connecting.
    assert calls > 10 * len(attempts)
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    for failures, gap in enumerate(gaps):
        assert gap >= min(0.4, 0.05 * 2**failures) * (1 - JITTER)
