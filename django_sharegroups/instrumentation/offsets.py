"""Per-partition SPSO, log end offset and lag of the process's share groups, read from the
broker for /metrics.

A daemon thread of the process that serves /metrics (the supervisor with ``--processes``) asks
the broker every ``METRICS_OFFSETS_INTERVAL`` seconds with the project's own
:class:`~django_sharegroups.kafka.admin.ShareGroupAdmin` (DescribeShareGroupOffsets and
ListOffsets), never on a consumer thread; a scrape only reads what the last round found. A
failed read is counted per group and error, drops that group's gauges until a read works again
(stale offsets would look like progress), and is logged as one episode: a warning when reads
start failing, a line when they work again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..kafka.backoff import FailureEpisode
from ..kafka.errors import BrokerError, GroupIdNotFoundError
from ..kafka.results import SharePartitionOffsets

logger = logging.getLogger("django_sharegroups.metrics")

OffsetsSource = Callable[[str], list[SharePartitionOffsets]]


class OffsetsReader:
    """The latest offsets of ``groups``, refreshed every ``interval`` seconds by :meth:`start`.

    ``source`` reads one group (tests pass their own); by default a ``ShareGroupAdmin`` on
    ``kafka`` (the librdkafka-style connection dict of the settings), reopened after a failure.
    """

    def __init__(
        self,
        groups: list[str],
        interval: float,
        *,
        kafka: Mapping[str, Any] | None = None,
        source: OffsetsSource | None = None,
    ) -> None:
        self.groups = list(groups)
        self.interval = interval
        self.kafka = dict(kafka or {})
        self._source = source
        self._admin: Any = None
        #: Share group → its partitions as the last read found them (absent: unknown now).
        self.latest: dict[str, list[SharePartitionOffsets]] = {}
        #: (share group, error name) → failed reads.
        self.errors: dict[tuple[str, str], int] = {}
        self.rounds = 0
        self.episode = FailureEpisode(logger, "Reading share-group offsets for /metrics")
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self, group: str) -> list[SharePartitionOffsets]:
        if self._source is not None:
            return self._source(group)
        if self._admin is None:
            from ..kafka.admin import ShareGroupAdmin

            self._admin = ShareGroupAdmin(self.kafka)
        return self._admin.share_group_offsets(group)

    def read_all(self) -> None:
        """One round over every group; errors are counted, never raised."""
        failures = []
        for group in self.groups:
            try:
                offsets = self.read(group)
            except GroupIdNotFoundError:
                offsets = []  # no member has joined yet: nothing to report, nothing wrong
            except Exception as exc:
                name = exc.name if isinstance(exc, BrokerError) else type(exc).__name__
                self.errors[(group, name)] = self.errors.get((group, name), 0) + 1
                self.latest.pop(group, None)
                failures.append(f"{group}: {exc}")
                self._reopen()
                continue
            self.latest[group] = offsets
        self.rounds += 1
        if failures:
            self.episode.failed("; ".join(failures))
        else:
            self.episode.succeeded()

    def _reopen(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:  # a broken connection may fail to close; it is dropped anyway
                logger.debug("Closing the offsets admin client failed", exc_info=True)

    def start(self) -> OffsetsReader:
        self._thread = threading.Thread(
            target=self._run, name="sharegroups-metrics-offsets", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.read_all()
            self.stop_event.wait(self.interval)
        self._reopen()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
