"""How the confluent adapter closes its librdkafka members.

librdkafka 2.16 can hang in ``close`` for good: closing members one after the other let the
broker move the first one's partitions to the next, whose assignment then arrived while it
terminated (3 of 12 runs of tests/integration/test_supervised_listeners.py). That hang cannot
be provoked on demand, so these tests stand a recording consumer in for librdkafka's and check
the two rules that avoid and bound it."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from django_sharegroups.clients import confluent
from django_sharegroups.clients.confluent import ConfluentShareConsumer


class RecordingConsumer:
    """Closes only once every consumer of the client has begun closing (or never)."""

    created: list[RecordingConsumer] = []
    hangs = False

    def __init__(self, config) -> None:
        self.closing = threading.Event()
        self.closed = False
        RecordingConsumer.created.append(self)

    def set_acknowledgement_commit_callback(self, callback) -> None:
        pass

    def close(self) -> None:
        self.closing.set()
        if RecordingConsumer.hangs:
            threading.Event().wait(30)
            return
        for other in RecordingConsumer.created:
            if not other.closing.wait(2.0):
                raise AssertionError("a member closed before the others began closing")
        self.closed = True


@pytest.fixture
def recording(monkeypatch):
    RecordingConsumer.created = []
    RecordingConsumer.hangs = False
    monkeypatch.setattr(confluent, "ShareConsumer", RecordingConsumer)
    return RecordingConsumer


def test_members_close_at_once(recording):
    client = ConfluentShareConsumer({"group.id": "g"}, 3)
    client.close()
    assert len(recording.created) == 3
    assert all(consumer.closed for consumer in recording.created)


def test_a_close_that_hangs_is_left_behind_with_a_warning(recording, monkeypatch, caplog):
    monkeypatch.setattr(confluent, "CLOSE_TIMEOUT", 0.2)
    recording.hangs = True
    client = ConfluentShareConsumer({"group.id": "g"}, 2)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="django_sharegroups.clients.confluent"):
        client.close()
    assert time.monotonic() - began < 5.0
    assert all(consumer.closing.is_set() for consumer in recording.created)
    assert "did not close within" in caplog.text
