"""librdkafka members that poll in threads of their own, so a poll's wait overlaps the work.

In explicit mode librdkafka sends a ShareFetch only inside ``poll`` and refuses to poll while a
record of the last poll is unacknowledged, so one member cannot fetch while its records are
processed: the listener would wait for the broker once per poll (about half its time on a
backlog, docs/benchmarks.md). With two members in one listener, one member's poll is at the
broker while the other's records are processed. ``poll`` releases the GIL while it waits, so
the listener thread runs meanwhile.

A member is ``idle`` (everything it handed over is acknowledged), ``polling`` (its thread is in
``poll``) or ``ready`` / handed over (its records are with the listener). Only one thread uses
a member's consumer at a time: its fetch thread while polling, the listener otherwise; the
queues between them order those uses.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Fetched:
    """What a fetch thread hands back: the records (or what ``poll`` raised), and when it
    asked for them."""

    member: FetchMember
    records: list[Any] = field(default_factory=list)
    #: ``time.time()`` when the poll began (the records' locks started after it).
    began: float = 0.0
    error: BaseException | None = None


class FetchMember:
    """One librdkafka share consumer and the thread that polls it when asked."""

    def __init__(
        self,
        consumer: Any,
        convert: Callable[[Any, Any], list[Any]],
        results: queue.SimpleQueue[Fetched],
        name: str,
    ) -> None:
        self.consumer = consumer
        #: Messages of a poll → the adapter's records (run in the fetch thread).
        self._convert = convert
        self._results = results
        self._requests: queue.SimpleQueue[float | None] = queue.SimpleQueue()
        #: In ``poll`` (or about to be); the listener must not touch the consumer.
        self.polling = False
        #: Its last poll's records are with the listener (waiting or handed over) and not all
        #: acknowledged: librdkafka refuses to poll it again until they are.
        self.holds = False
        #: Its records were handed over and their acknowledgements not sent since (by a poll
        #: or a commit).
        self.unsent = False
        #: What ``consumer.close()`` raised, if anything.
        self.close_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def start_poll(self, timeout: float) -> None:
        self.polling = True
        self._requests.put(timeout)

    def close(self) -> None:
        """Ask the thread to close the consumer (after a poll in progress returns), then end."""
        self._requests.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for ``close`` to finish; False when it has not after ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        consumer, convert, results = self.consumer, self._convert, self._results
        while True:
            timeout = self._requests.get()
            if timeout is None:
                try:
                    consumer.close()
                except BaseException as exc:  # noqa: BLE001 - the listener raises it
                    self.close_error = exc
                return
            began = time.time()
            try:
                fetched = Fetched(self, convert(consumer, consumer.poll(timeout)), began)
            except BaseException as exc:  # noqa: BLE001 - the listener raises it
                fetched = Fetched(self, [], began, exc)
            results.put(fetched)
