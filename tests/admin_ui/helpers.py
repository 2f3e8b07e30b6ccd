"""Helpers for the share-group admin tests: real share consumers and waiting on the broker."""

from __future__ import annotations

import threading
from types import TracebackType

from confluent_kafka import ShareConsumer

from django_sharegroups.kafka import ShareGroupAdmin, ShareGroupDescription

from ..helpers import assigned, wait_for

CLIENT_ID = "sharegroups-admin-ui-test"


def total_lag(admin: ShareGroupAdmin, group: str) -> int | None:
    lags = [entry.lag for entry in admin.share_group_offsets(group)]
    return None if not lags or None in lags else sum(lags)


class RunningConsumer:
    """A ShareConsumer polling in its own thread until the ``with`` block ends.

    ShareConsumer is not thread-safe, so only that thread creates, polls, commits and closes
    it; the test thread reads ``received`` and asks the broker about the group.
    """

    def __init__(self, bootstrap_servers: str, group: str, topic: str) -> None:
        self.config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "client.id": CLIENT_ID,
        }
        self.group = group
        self.topic = topic
        self.received: list[bytes] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{group}", daemon=True)

    def _run(self) -> None:
        try:
            consumer = ShareConsumer(self.config)
            consumer.subscribe([self.topic])
            try:
                while not self._stop.is_set():
                    for message in consumer.poll(0.2):
                        if message.error() is None:
                            self.received.append(message.value())
                consumer.commit_sync(10.0)  # close() alone may leave the last poll unacked
            finally:
                consumer.close()
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            self.error = error

    def __enter__(self) -> RunningConsumer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None and exc is None:
            raise self.error

    def wait_for_records(self, count: int) -> list[bytes]:
        return wait_for(lambda: len(self.received) >= count and self.received)

    def wait_for_member(self, admin: ShareGroupAdmin) -> ShareGroupDescription:
        """Until the broker lists this consumer as the group's member with an assignment."""
        return wait_for(lambda: assigned(admin, self.group))
