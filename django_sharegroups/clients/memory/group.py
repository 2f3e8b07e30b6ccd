"""A share group inside the memory broker: its members, assignment and share partitions."""

from __future__ import annotations

from dataclasses import dataclass, field

from .assignment import assign_partitions
from .share_partition import SharePartition

__all__ = [
    "Member",
    "MemberDescription",
    "ShareGroup",
    "ShareGroupDescription",
    "SharePartitionOffsets",
]


@dataclass(slots=True)
class Member:
    member_id: str
    client_id: str
    topics: tuple[str, ...]
    joined_at_ms: int
    #: Where the next poll starts among the assigned partitions (fairness across partitions).
    next_partition_index: int = 0
    #: Set when the member "crashed": it leaves after ``share.session.timeout.ms`` from here.
    heartbeat_stopped_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MemberDescription:
    member_id: str
    client_id: str
    subscribed_topics: tuple[str, ...]
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ShareGroupDescription:
    """What Kafka's ShareGroupDescribe tells an admin: state and members."""

    group_id: str
    state: str  # "Empty" or "Stable"
    members: tuple[MemberDescription, ...]


@dataclass(frozen=True, slots=True)
class SharePartitionOffsets:
    """What Kafka's DescribeShareGroupOffsets tells an admin about one share partition."""

    topic: str
    partition: int
    start_offset: int
    lag: int


@dataclass(slots=True)
class ShareGroup:
    group_id: str
    members: dict[str, Member] = field(default_factory=dict)
    share_partitions: dict[tuple[str, int], SharePartition] = field(default_factory=dict)
    _assignment: dict[str, list[tuple[str, int]]] | None = None

    @property
    def state(self) -> str:
        return "Stable" if self.members else "Empty"

    def invalidate_assignment(self) -> None:
        self._assignment = None

    def assignment(
        self, member_id: str, partitions_by_topic: dict[str, int]
    ) -> list[tuple[str, int]]:
        if self._assignment is None:
            members = [(m.member_id, m.topics) for m in self.members.values()]
            subscribed = {topic for _, topics in members for topic in topics}
            counts = {t: n for t, n in partitions_by_topic.items() if t in subscribed}
            self._assignment = assign_partitions(members, counts)
        return self._assignment.get(member_id, [])
