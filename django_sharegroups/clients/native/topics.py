"""Topic ids, names and partition leaders, as Metadata reports them.

Share RPCs name topics by id (the assignment, ShareFetch, ShareAcknowledge) while records are
reported by name, and each partition must be fetched from its leader. This directory keeps
both, refreshed when an id or a leader is unknown or a broker says it is not the leader.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from ...kafka.cluster import Cluster
from .acknowledgements import TopicIdPartition


class TopicDirectory:
    """Topic id ↔ name and (topic id, partition) → leader node id (thread-safe reads)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._names: dict[uuid.UUID, str] = {}
        self._ids: dict[str, uuid.UUID] = {}
        self._leaders: dict[tuple[uuid.UUID, int], int] = {}
        self.stale = True

    def refresh(self, topics: Iterable[str]) -> None:
        """Ask Metadata about ``topics`` (never creating them)."""
        metadata = self.cluster.metadata(list(topics))
        with self._lock:
            for name, topic in metadata.topics.items():
                if topic.error_code:
                    continue
                old_id = self._ids.get(name)
                if old_id is not None and old_id != topic.topic_id:
                    # Recreated under the same name: forget the old incarnation.
                    self._names.pop(old_id, None)
                    for key in [k for k in self._leaders if k[0] == old_id]:
                        del self._leaders[key]
                self._names[topic.topic_id] = name
                self._ids[name] = topic.topic_id
                for partition, leader in topic.partition_leaders.items():
                    self._leaders[(topic.topic_id, partition)] = leader
            self.stale = False

    def partition(self, topic_id: uuid.UUID, partition: int) -> TopicIdPartition | None:
        with self._lock:
            name = self._names.get(topic_id)
        return None if name is None else TopicIdPartition(topic_id, name, partition)

    def by_name(self, topic: str, partition: int) -> TopicIdPartition | None:
        with self._lock:
            topic_id = self._ids.get(topic)
        return None if topic_id is None else TopicIdPartition(topic_id, topic, partition)

    def leader(self, partition: TopicIdPartition) -> int | None:
        with self._lock:
            leader = self._leaders.get((partition.topic_id, partition.partition), -1)
        return leader if leader >= 0 else None

    def moved(self, partition: TopicIdPartition, leader_id: int) -> None:
        """A broker named the partition's new leader (``-1``: unknown, ask Metadata again).

        A leader id that is no broker this client knows counts as unknown: Kafka 4.4 answers
        UNKNOWN_TOPIC_OR_PARTITION with leader id 0 in ``CurrentLeader`` (seen when a leader
        had been killed), and fetching from "node 0" of a cluster numbered from 1 only failed.
        """
        if leader_id >= 0 and not self.cluster.knows_broker(leader_id):
            leader_id = -1
        with self._lock:
            self._leaders[(partition.topic_id, partition.partition)] = leader_id
            if leader_id < 0:
                self.stale = True
