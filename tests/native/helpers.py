"""Polling helpers for the native adapter's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import time

from django_sharegroups.clients.base import AcknowledgeType, ReceivedRecord, ShareConsumerClient

#: Connection settings of a member that talks to nobody (a closed local port) and gives up
#: and retries within milliseconds: for scripted coordinators and error paths.
FAST_RETRIES = {
    "bootstrap.servers": "127.0.0.1:1",
    "socket.timeout.ms": 1000,
    "retry.backoff.ms": 10,
    "reconnect.backoff.ms": 10,
    "reconnect.backoff.max.ms": 50,
}


def poll_until(
    client: ShareConsumerClient,
    count: int,
    *,
    timeout: float = 20.0,
    max_records: int = 100,
    ack: AcknowledgeType | None = AcknowledgeType.ACCEPT,
) -> list[ReceivedRecord]:
    """Poll until ``count`` records came (acknowledging each as ``ack``, committing)."""
    records: list[ReceivedRecord] = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        polled = client.poll(max_records, 0.3)
        for record in polled:
            if ack is not None:
                client.acknowledge(record, ack)
        if polled and ack is not None:
            assert client.commit_sync(10) == []
        records += polled
    return records


def quiet(*clients: ShareConsumerClient, seconds: float = 2.0) -> list[ReceivedRecord]:
    """Poll (accepting) for ``seconds``; return whatever came."""
    came: list[ReceivedRecord] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for client in clients:
            polled = client.poll(100, 0.2)
            for record in polled:
                client.acknowledge(record, AcknowledgeType.ACCEPT)
            if polled:
                client.commit_sync(10)
            came += polled
    return came
