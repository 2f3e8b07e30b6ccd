"""What the share-group admin returns: plain, immutable dataclasses, free of wire details."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple


class TopicPartition(NamedTuple):
    """A partition of a topic; a plain tuple, so ``("orders", 0)`` works wherever it is expected."""

    topic: str
    partition: int


@dataclass(frozen=True)
class ShareGroupListing:
    """One share group as ListGroups reports it."""

    group_id: str
    state: str


@dataclass(frozen=True)
class ShareGroupMember:
    member_id: str
    member_epoch: int
    client_id: str
    client_host: str
    rack_id: str | None
    subscribed_topic_names: tuple[str, ...]
    assignment: Mapping[str, tuple[int, ...]]
    """Topic name → partitions assigned to this member."""

    @property
    def assigned_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(topic, partition)
            for topic, partitions in sorted(self.assignment.items())
            for partition in partitions
        ]


@dataclass(frozen=True)
class ShareGroupDescription:
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor_name: str
    members: tuple[ShareGroupMember, ...]

    @property
    def is_empty(self) -> bool:
        return not self.members


@dataclass(frozen=True)
class SharePartitionOffsets:
    """Where a share group stands on one partition.

    ``start_offset`` is the share-partition start offset (SPSO); ``None`` until the group has
    initialised the partition. ``lag`` is the broker's count of records not yet delivered and
    acknowledged when it reports one (DescribeShareGroupOffsets v1), else end − SPSO.
    """

    topic: str
    partition: int
    start_offset: int | None
    log_end_offset: int | None
    lag: int | None
    leader_epoch: int | None = None


@dataclass(frozen=True)
class OffsetReset:
    """One partition of a reset: the SPSO before and the SPSO requested."""

    topic: str
    partition: int
    before: int | None
    after: int


@dataclass(frozen=True)
class ShareGroupOffsetsReset:
    group_id: str
    dry_run: bool
    partitions: tuple[OffsetReset, ...]


@dataclass(frozen=True)
class ConfigEntry:
    """A group config as DescribeConfigs reports it."""

    name: str
    value: str | None
    source: str
    """Where the value comes from: ``GROUP_CONFIG`` (set on the group), ``DEFAULT_CONFIG``,
    ``STATIC_BROKER_CONFIG``, ``DYNAMIC_BROKER_CONFIG``, ..."""
    read_only: bool
    sensitive: bool
    documentation: str | None = None

    @property
    def is_default(self) -> bool:
        """True unless the value was set on this group."""
        return self.source != "GROUP_CONFIG"
