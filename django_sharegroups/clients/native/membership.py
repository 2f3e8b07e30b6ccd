"""Share-group membership: the ShareGroupHeartbeat loop on a thread of its own.

The member must heartbeat every ``heartbeat_interval_ms`` (the broker says how often) whatever
the owner thread is doing — a job may run for minutes between polls — or the coordinator drops
it after ``group.share.session.timeout.ms`` and releases its records. So heartbeats have their
own thread and their own connection (a fetch waiting on the broker must not delay them).

Protocol, as Kafka 4.4 speaks it (ShareGroupHeartbeat v1): the member makes up its own member
id and joins with epoch 0 and its topic names; each answer carries the member epoch to send
next, the heartbeat interval and, when it changed, the assignment (topic ids and partitions).
``UNKNOWN_MEMBER_ID`` or ``FENCED_MEMBER_EPOCH`` mean the coordinator forgot or fenced the
member: it drops its assignment and joins again with epoch 0 under the same id. Leaving is a
heartbeat with epoch -1.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Sequence

from ...kafka.backoff import Backoff, FailureEpisode
from ...kafka.cluster import Cluster
from ...kafka.errors import (
    COORDINATOR_ERROR_CODES,
    BrokerError,
    ErrorCode,
    KafkaError,
    error_for_code,
    error_name,
)
from ...kafka.protocol.messages.share_consumer import (
    MEMBER_EPOCH_JOIN,
    MEMBER_EPOCH_LEAVE,
    SHARE_GROUP_HEARTBEAT,
)

logger = logging.getLogger("django_sharegroups.clients.native")


#: Until the broker says otherwise (Kafka's default ``group.share.heartbeat.interval.ms``).
DEFAULT_HEARTBEAT_INTERVAL = 5.0
#: The first quick heartbeat of a member without partitions (then doubling up to the interval).
QUICK_HEARTBEAT = 0.05

Assignment = frozenset[tuple[uuid.UUID, int]]


def new_member_id() -> str:
    """A random member id in Kafka's own spelling of UUIDs (22 chars of url-safe base64)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


class Membership:
    """One member of a share group: joins, heartbeats, tracks its assignment, leaves."""

    def __init__(
        self,
        cluster: Cluster,
        group_id: str,
        *,
        member_id: str | None = None,
        rack_id: str | None = None,
        name: str = "",
    ) -> None:
        self.cluster = cluster
        self.group_id = group_id
        self.member_id = member_id or new_member_id()
        self.rack_id = rack_id
        self.member_epoch = MEMBER_EPOCH_JOIN
        self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL
        #: A broker error that retrying will not fix (e.g. GROUP_AUTHORIZATION_FAILED); the
        #: owner thread raises it from ``poll``. Cleared by the next good heartbeat.
        self.error: BrokerError | None = None
        self._name = name or f"sharegroups-heartbeat:{group_id}"
        self._topics: tuple[str, ...] = ()
        self._send_topics = True
        self._assignment: Assignment = frozenset()
        self._assignment_version = 0
        self._joined_once = False
        #: The wait before the next heartbeat while the assignment is empty (see ``_wait``).
        self._quick = QUICK_HEARTBEAT
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        config = cluster.config
        #: Failed heartbeats wait retry.backoff.ms, doubling up to retry.backoff.max.ms (1 s
        #: by default), as Kafka's own consumer does. Up to reconnect.backoff.max.ms (10 s)
        #: was too long: after the coordinator's broker was killed (3-node test cluster), the
        #: last waits of a member were 2.7 s and 5.9 s and its heartbeats worked again 11.8 s
        #: after the first failure, past the cluster's 10 s group.share.session.timeout.ms, so
        #: the new coordinator may fence it. A coordinator that is still down costs nothing per
        #: attempt: the cluster fails a connect to it at once during its reconnect backoff, and
        #: FindCoordinator goes to any live broker.
        self._backoff = Backoff(config.retry_backoff, config.retry_backoff_max)
        self._episode = FailureEpisode(logger, f"{self._name}: heartbeat to {group_id!r}")
        self._refresh_coordinator = False

    # -- owner-thread API -------------------------------------------------------------------

    def subscribe(self, topics: Sequence[str]) -> None:
        """Join (or change the subscription of) the group; the thread starts on first use."""
        with self._changed:
            self._topics = tuple(topics)
            self._send_topics = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        else:
            self._wake.set()

    @property
    def assignment(self) -> Assignment:
        with self._changed:
            return self._assignment

    @property
    def assignment_version(self) -> int:
        with self._changed:
            return self._assignment_version

    @property
    def joined(self) -> bool:
        with self._changed:
            return self._joined_once

    def wait_for_assignment_change(self, version: int, timeout: float) -> bool:
        """Block until the assignment changes from ``version`` (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._assignment_version == version:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return False
                self._changed.wait(remaining)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop heartbeating and leave the group (epoch -1), releasing what it holds."""
        self._stop.set()
        self._wake.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._joined_once and self.member_epoch > 0:
            try:
                self._request(MEMBER_EPOCH_LEAVE, topics=None)
            except KafkaError as error:
                logger.info(
                    "%s: leaving share group %r failed: %s", self._name, self.group_id, error
                )
        self.member_epoch = MEMBER_EPOCH_LEAVE

    def send_stale_epoch(self) -> None:
        """Make the next heartbeat carry an epoch the coordinator never issued: it answers
        FENCED_MEMBER_EPOCH and the member rejoins, as after a long pause. The tests drive
        that recovery against a real broker with this (safe while the heartbeat thread runs)."""
        with self._changed:
            self.member_epoch += 1000
        self._wake.set()

    # -- heartbeat thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self._beat()
            if self._wake.wait(delay):
                self._wake.clear()

    def _beat(self) -> float:
        """One heartbeat; returns the seconds until the next one."""
        with self._changed:
            topics = self._topics if (self._send_topics or self.member_epoch == 0) else None
        try:
            response = self._request(self.member_epoch, topics)
        except KafkaError as error:
            return self._retry_later(f"heartbeat failed: {error}")
        code = response.error_code
        if code == 0:
            self._backoff.succeeded()
            self._episode.succeeded()
            self.error = None
            self._accept(response, sent_topics=topics)
            return self._wait()
        if code in COORDINATOR_ERROR_CODES:
            self._refresh_coordinator = True
            return self._retry_later(f"coordinator says {error_name(code)}")
        if code in (ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_MEMBER_EPOCH):
            logger.info(
                "%s: %s from the coordinator of %r; rejoining as %s",
                self._name,
                error_name(code),
                self.group_id,
                self.member_id,
            )
            with self._changed:
                self.member_epoch = MEMBER_EPOCH_JOIN
                self._send_topics = True
                self._set_assignment(frozenset())
            return 0.0
        self.error = error_for_code(
            code, response.error_message, context=f"ShareGroupHeartbeat for {self.group_id!r}"
        )
        return self._retry_later(str(self.error), level=logging.ERROR)

    def _wait(self) -> float:
        """Seconds until the next heartbeat: the interval, or sooner while the member has no
        partitions. The coordinator works the assignment out after the join, so the answer to
        a join usually has none, and a member that waited the whole interval (5 s by default)
        sat idle that long. From 50 ms, doubling up to the interval: a few extra heartbeats
        per join or lost assignment. 32 members joining at once had their first records
        within 0.3 s of the first member's instead of 0.6 s (the scaling part of
        benchmarks.throughput, 500 ms interval)."""
        if self._assignment:
            self._quick = QUICK_HEARTBEAT
            return self.heartbeat_interval
        wait = min(self._quick, self.heartbeat_interval)
        self._quick = wait * 2
        return wait

    def _request(self, epoch: int, topics: tuple[str, ...] | None):
        coordinator = self.cluster.find_coordinator(
            self.group_id, refresh=self._refresh_coordinator
        )
        self._refresh_coordinator = False
        body = {
            "group_id": self.group_id,
            "member_id": self.member_id,
            "member_epoch": epoch,
            "rack_id": self.rack_id if epoch == MEMBER_EPOCH_JOIN else None,
            "subscribed_topic_names": list(topics) if topics is not None else None,
        }
        return self.cluster.request(SHARE_GROUP_HEARTBEAT, body, node_id=coordinator)

    def _accept(self, response, sent_topics: tuple[str, ...] | None) -> None:
        with self._changed:
            self.member_epoch = response.member_epoch
            if response.heartbeat_interval_ms > 0:
                self.heartbeat_interval = response.heartbeat_interval_ms / 1000
            if sent_topics is not None and sent_topics == self._topics:
                self._send_topics = False
            self._joined_once = True
            if response.assignment is not None:
                self._set_assignment(
                    frozenset(
                        (topic.topic_id, partition)
                        for topic in response.assignment.topic_partitions
                        for partition in topic.partitions
                    )
                )

    def _set_assignment(self, assignment: Assignment) -> None:
        """Called with ``_changed`` held."""
        if assignment != self._assignment or not self._assignment_version:
            self._assignment = assignment
            self._assignment_version += 1
            self._changed.notify_all()

    def _retry_later(self, reason: str, level: int = logging.WARNING) -> float:
        """Back off (jittered, doubling); an outage is logged once per episode, while a
        refusal that needs an operator (``level`` ERROR) is logged each time."""
        self._refresh_coordinator = True
        delay = self._backoff.failed()
        if level > logging.WARNING:
            logger.log(level, "%s: %s; retrying in %.2fs", self._name, reason, delay)
        else:
            self._episode.failed(reason, delay)
        return delay
