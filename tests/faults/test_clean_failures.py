"""``runshareconsumers`` on a broker it cannot use: one error line with a hint, exit code 1.

Each case runs the real command in a child process (the project declares one share group)
against a closed local port, the real broker's SASL listener with wrong credentials or a
wrong mechanism, and a server that answers like Kafka's TLS listener.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from .helpers import closed_port, ledger_env, manage

GROUP = {"LEDGER_GROUP": "clean-failures", "LEDGER_TOPIC": "clean-failures"}


def run_consumers(kafka: dict, *options: str):
    env = ledger_env(kafka, LEDGER_CLIENT=os.environ.get("LEDGER_CLIENT", ""), **GROUP)
    return manage("runshareconsumers", *options, env=env, timeout=90)


def assert_one_clean_line(result, *expected: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("client", ["confluent", "native"])
def test_unreachable_broker(client: str, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_CLIENT", client)
    port = closed_port()
    result = run_consumers({"bootstrap.servers": f"127.0.0.1:{port}"})
    assert_one_clean_line(
        result, f"127.0.0.1:{port}", "Connection refused", "Is the broker running"
    )


def test_a_traceback_only_when_asked_for() -> None:
    result = run_consumers({"bootstrap.servers": f"127.0.0.1:{closed_port()}"}, "--traceback")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "KafkaConnectionError" in result.stderr


@pytest.fixture
def tls_like_listener() -> Iterator[int]:
    """A port that answers a plaintext Kafka request the way Kafka's SSL listener does: with a
    TLS alert record (content type 21, version 3.3), then hangs up."""
    server = socket.create_server(("127.0.0.1", 0))
    stopped = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stopped.is_set():
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            with peer:
                peer.recv(4096)
                peer.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0A]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stopped.set()
    thread.join(5)
    server.close()


def test_plaintext_client_on_a_tls_port(tls_like_listener: int) -> None:
    result = run_consumers({"bootstrap.servers": f"127.0.0.1:{tls_like_listener}"})
    assert_one_clean_line(result, "implausible response size 352518912", "answered in TLS", "SSL")


@pytest.fixture
def sasl_bootstrap_servers(kafka_bootstrap_servers: str) -> str:
    address = os.environ.get("SHAREGROUPS_KAFKA_SASL_BOOTSTRAP_SERVERS")
    if not address:
        host, port = kafka_bootstrap_servers.rsplit(":", 1)
        address = f"{host}:{int(port) + 2}"
    return address


def sasl(address: str, mechanism: str, user: str, password: str) -> dict:
    return {
        "bootstrap.servers": address,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }


def test_wrong_sasl_password(sasl_bootstrap_servers: str) -> None:
    result = run_consumers(sasl(sasl_bootstrap_servers, "PLAIN", "alice", "not-her-secret"))
    assert_one_clean_line(result, "SASL_AUTHENTICATION_FAILED", "sasl.password")


def test_wrong_sasl_mechanism(sasl_bootstrap_servers: str) -> None:
    """bob exists for SCRAM-SHA-256 only: SCRAM-SHA-512 fails with the per-mechanism hint."""
    result = run_consumers(sasl(sasl_bootstrap_servers, "SCRAM-SHA-512", "bob", "bob-secret"))
    assert_one_clean_line(result, "SASL_AUTHENTICATION_FAILED", "sasl.mechanism")


def test_mechanism_the_broker_does_not_enable(sasl_bootstrap_servers: str) -> None:
    result = run_consumers(sasl(sasl_bootstrap_servers, "OAUTHBEARER", "alice", "x"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr


def test_plaintext_client_on_a_sasl_port(sasl_bootstrap_servers: str) -> None:
    result = run_consumers({"bootstrap.servers": sasl_bootstrap_servers})
    assert_one_clean_line(result, "closed the connection", "security.protocol")


def test_plaintext_client_on_kafkas_own_tls_listener(kafka_bootstrap_servers: str) -> None:
    """The same mistake against the real broker's SSL listener (port + 3)."""
    from tests.services import kafka as kafka_service
    from tests.services import require_or_skip

    broker = kafka_service.KafkaBroker(int(kafka_bootstrap_servers.rsplit(":", 1)[1]))
    if not broker.tls.exist():
        require_or_skip("kafka", f"the test broker has no TLS listeners ({broker.tls.directory})")
    result = run_consumers({"bootstrap.servers": f"127.0.0.1:{broker.ssl_port}"})
    assert_one_clean_line(result, "implausible response size", "answered in TLS", "SSL")
