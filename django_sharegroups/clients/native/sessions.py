"""Share sessions: this member's fetch state with one broker (KIP-932).

The first ShareFetch to a broker opens a session (epoch 0) listing the partitions to fetch;
each later request sends the next epoch and only what changed — partitions to add (with or
without acknowledgements) and partitions to forget. Epoch -1 closes the session. A request the
broker refuses leaves the epoch where it was; a session the broker lost
(``SHARE_SESSION_NOT_FOUND``, ``INVALID_SHARE_SESSION_EPOCH``, a dropped connection) is
opened again from scratch. Records acquired through a lost session stay acquired by the member
and can be acknowledged through the new one.

A session at epoch 0 cannot carry acknowledgements, and RENEW acknowledgements (KIP-1222)
travel only in ShareAcknowledge (Kafka 4.4 refuses ``is_renew_ack`` on ShareFetch).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Set

from ...kafka.protocol.messages.share_consumer import (
    SHARE_ACQUIRE_MODE_BATCH_OPTIMIZED,
    SHARE_ACQUIRE_MODE_RECORD_LIMIT,
    SHARE_SESSION_EPOCH_CLOSE,
    SHARE_SESSION_EPOCH_OPEN,
)
from .acknowledgements import Offsets, TopicIdPartition, acknowledgement_batches, renews

_MAX_EPOCH = 2**31 - 1


class ShareSession:
    """The share session of one member with one broker."""

    def __init__(self, node_id: int, group_id: str, member_id: str) -> None:
        self.node_id = node_id
        self.group_id = group_id
        self.member_id = member_id
        self.epoch = SHARE_SESSION_EPOCH_OPEN
        #: The partitions the broker has in this session.
        self.partitions: set[TopicIdPartition] = set()

    @property
    def opened(self) -> bool:
        return self.epoch > 0

    def advance(self) -> None:
        """The broker took a request at the current epoch."""
        self.epoch = 1 if self.epoch >= _MAX_EPOCH else self.epoch + 1

    def reset(self) -> None:
        """Forget the session; the next request opens a new one."""
        self.epoch = SHARE_SESSION_EPOCH_OPEN
        self.partitions.clear()

    def fetch_request(
        self,
        wanted: Set[TopicIdPartition],
        acknowledgements: Mapping[TopicIdPartition, Offsets],
        *,
        max_records: int,
        max_wait_ms: int,
        max_bytes: int,
        whole_batches: bool = False,
    ) -> dict:
        """A ShareFetch that makes the session fetch ``wanted`` and carries ``acknowledgements``
        (which must be for partitions in ``wanted``, and empty when the session is not open);
        at most ``max_records``, or whole batches beyond it with ``whole_batches``."""
        if acknowledgements and not self.opened:
            raise ValueError("a share session cannot acknowledge before it is open")
        if renews(acknowledgements):
            raise ValueError("RENEW travels in ShareAcknowledge only")
        if set(acknowledgements) - set(wanted):
            raise ValueError("acknowledgements for partitions the fetch does not name")
        listed = set(wanted) - self.partitions if self.opened else set(wanted)
        listed |= set(acknowledgements)
        forgotten = self.partitions - set(wanted) if self.opened else set()
        return {
            "group_id": self.group_id,
            "member_id": self.member_id,
            "share_session_epoch": self.epoch,
            "max_wait_ms": max_wait_ms,
            "min_bytes": 1,
            "max_bytes": max_bytes,
            "max_records": max_records,
            "batch_size": max_records,
            "share_acquire_mode": _acquire_mode(whole_batches),
            "is_renew_ack": False,
            "topics": _topics(listed, acknowledgements),
            "forgotten_topics_data": _forgotten(forgotten),
        }

    def acknowledge_request(
        self, acknowledgements: Mapping[TopicIdPartition, Offsets], *, close: bool = False
    ) -> dict:
        """A ShareAcknowledge at the current epoch (or closing the session)."""
        if not self.opened:
            raise ValueError("a share session cannot acknowledge before it is open")
        return {
            "group_id": self.group_id,
            "member_id": self.member_id,
            "share_session_epoch": SHARE_SESSION_EPOCH_CLOSE if close else self.epoch,
            "is_renew_ack": renews(acknowledgements),
            "topics": _topics(set(acknowledgements), acknowledgements),
        }


def _acquire_mode(whole_batches: bool) -> int:
    if whole_batches:
        return SHARE_ACQUIRE_MODE_BATCH_OPTIMIZED
    return SHARE_ACQUIRE_MODE_RECORD_LIMIT


def _topics(
    partitions: Set[TopicIdPartition], acknowledgements: Mapping[TopicIdPartition, Offsets]
) -> list[dict]:
    by_topic: dict[uuid.UUID, list[dict]] = {}
    for partition in sorted(partitions, key=lambda p: (str(p.topic_id), p.partition)):
        by_topic.setdefault(partition.topic_id, []).append(
            {
                "partition_index": partition.partition,
                "acknowledgement_batches": acknowledgement_batches(
                    acknowledgements.get(partition, {})
                ),
            }
        )
    return [{"topic_id": topic_id, "partitions": parts} for topic_id, parts in by_topic.items()]


def _forgotten(partitions: Set[TopicIdPartition]) -> list[dict]:
    by_topic: dict[uuid.UUID, list[int]] = {}
    for partition in partitions:
        by_topic.setdefault(partition.topic_id, []).append(partition.partition)
    return [
        {"topic_id": topic_id, "partitions": sorted(indexes)}
        for topic_id, indexes in by_topic.items()
    ]
