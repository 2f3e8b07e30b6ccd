"""Share-group administration over Kafka's own RPCs (KIP-932), for views and management commands.

librdkafka has no share-group admin operations, so :class:`ShareGroupAdmin` speaks the RPCs
itself: ListGroups (type filter ``share``), ShareGroupDescribe, DescribeShareGroupOffsets,
AlterShareGroupOffsets, DeleteShareGroupOffsets, DeleteGroups, DescribeConfigs and
IncrementalAlterConfigs on GROUP resources, and ListOffsets for log end offsets.

It takes the same librdkafka-style dict as the share consumers. Broker errors surface as the
typed exceptions of :mod:`.errors`, carrying the broker's error name and message (for example
:class:`~.errors.NonEmptyGroupError` when resetting the SPSO of a group with members).
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

from .cluster import Cluster
from .config import ConnectionConfig
from .connection import WireObserver
from .errors import (
    LEADER_MOVED_ERROR_CODES,
    RETRIABLE_ERROR_CODES,
    ErrorCode,
    ProtocolError,
    UnknownTopicOrPartitionError,
    error_for_code,
    raise_for_error_code,
)
from .protocol import Struct
from .protocol.messages import (
    ALTER_SHARE_GROUP_OFFSETS,
    DELETE_GROUPS,
    DELETE_SHARE_GROUP_OFFSETS,
    DESCRIBE_CONFIGS,
    DESCRIBE_SHARE_GROUP_OFFSETS,
    INCREMENTAL_ALTER_CONFIGS,
    LIST_GROUPS,
    LIST_OFFSETS,
    SHARE_GROUP_DESCRIBE,
)
from .protocol.messages.configs import (
    CONFIG_OPERATION_DELETE,
    CONFIG_OPERATION_SET,
    RESOURCE_TYPE_GROUP,
)
from .protocol.messages.offsets import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from .results import (
    ConfigEntry,
    OffsetReset,
    ShareGroupDescription,
    ShareGroupListing,
    ShareGroupMember,
    ShareGroupOffsetsReset,
    SharePartitionOffsets,
    TopicPartition,
)

ResetTarget = Literal["earliest", "latest"] | datetime | Mapping[tuple[str, int], int]

SHARE_GROUP_CONFIG_PREFIXES = ("share.", "errors.deadletterqueue.")
"""Group configs that apply to share groups (``errors.deadletterqueue.*`` is KIP-1191's
broker-side DLQ); the others (``consumer.*``, ``streams.*``) belong to other group types."""

CONFIG_SOURCES = {
    0: "UNKNOWN",
    1: "TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
    6: "DYNAMIC_BROKER_LOGGER_CONFIG",
    7: "CLIENT_METRICS_CONFIG",
    8: "GROUP_CONFIG",
}

_READ_UNCOMMITTED = 0
_CONSUMER_REPLICA_ID = -1


def _only(items: list[Struct], what: str) -> Struct:
    """The single entry a one-group/one-resource request must get back."""
    if len(items) != 1:
        raise ProtocolError(f"expected one {what} in the response, got {len(items)}")
    return items[0]


def _group_error(group: Struct) -> tuple[int, str | None]:
    return group.error_code, group.error_message


class ShareGroupAdmin:
    """Admin operations on share groups of one cluster.

    Usable as a context manager; connections open lazily and are reused until :meth:`close`.
    Safe to share between threads (each broker connection serialises its requests).
    """

    def __init__(
        self,
        config: Mapping[str, Any] | ConnectionConfig,
        *,
        wire_observer: WireObserver | None = None,
    ) -> None:
        if not isinstance(config, ConnectionConfig):
            config = ConnectionConfig.from_dict(config)
        self.cluster = Cluster(config, wire_observer=wire_observer)

    def close(self) -> None:
        self.cluster.close()

    def __enter__(self) -> ShareGroupAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def finalized_features(self) -> dict[str, int]:
        """The cluster's finalized feature levels, e.g. ``{"share.version": 2, ...}``.

        ``share.version`` 1 enables share groups; 2 adds the broker-side dead-letter queue
        (KIP-1191, config ``errors.deadletterqueue.topic.name``).
        """
        return dict(self.cluster.connection().finalized_features)

    # -- groups ---------------------------------------------------------------------------

    def list_share_groups(self, states: Iterable[str] = ()) -> list[ShareGroupListing]:
        """Every share group of the cluster (optionally only those in ``states``).

        Groups live on their coordinators, so every broker is asked.
        """
        body = {"types_filter": ["share"], "states_filter": list(states)}
        listings: dict[str, ShareGroupListing] = {}
        for node_id in sorted(self.cluster.brokers()):
            response = self._retrying(
                functools.partial(
                    self.cluster.request, LIST_GROUPS, body, node_id=node_id, minimum_version=5
                ),
                lambda response: (response.error_code, None),
            )
            raise_for_error_code(response.error_code, context="ListGroups")
            for group in response.groups:
                listings[group.group_id] = ShareGroupListing(group.group_id, group.group_state)
        return sorted(listings.values(), key=lambda listing: listing.group_id)

    def describe_share_group(self, group_id: str) -> ShareGroupDescription:
        """State, epochs, assignor and members (with their assignments) of a share group."""
        response = self.cluster.coordinator_request(
            group_id,
            SHARE_GROUP_DESCRIBE,
            {"group_ids": [group_id], "include_authorized_operations": False},
            lambda response: _group_error(_only(response.groups, "group")),
        )
        group = _only(response.groups, "group")
        raise_for_error_code(
            group.error_code, group.error_message, context=f"share group {group_id!r}"
        )
        members = tuple(
            ShareGroupMember(
                member_id=member.member_id,
                member_epoch=member.member_epoch,
                client_id=member.client_id,
                client_host=member.client_host,
                rack_id=member.rack_id,
                subscribed_topic_names=tuple(member.subscribed_topic_names),
                assignment={
                    topic.topic_name: tuple(sorted(topic.partitions))
                    for topic in member.assignment.topic_partitions
                },
            )
            for member in group.members
        )
        return ShareGroupDescription(
            group_id=group.group_id,
            state=group.group_state,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            assignor_name=group.assignor_name,
            members=members,
        )

    def delete_share_group(self, group_id: str) -> None:
        """Delete a share group; the broker refuses while it has members (NON_EMPTY_GROUP).

        The group is described first so that a consumer group of the same name is never
        deleted by mistake (DeleteGroups itself does not look at group types).
        """
        self.describe_share_group(group_id)
        response = self.cluster.coordinator_request(
            group_id,
            DELETE_GROUPS,
            {"groups_names": [group_id]},
            lambda response: _group_error(_only(response.results, "group")),
            idempotent=False,
        )
        result = _only(response.results, "result")
        raise_for_error_code(
            result.error_code, result.error_message, context=f"deleting share group {group_id!r}"
        )

    # -- offsets --------------------------------------------------------------------------

    def share_group_offsets(self, group_id: str) -> list[SharePartitionOffsets]:
        """SPSO, log end offset and lag of every partition the share group knows.

        Raises :class:`~.errors.GroupIdNotFoundError` for an unknown group or one that is not
        a share group (DescribeShareGroupOffsets alone answers both with an empty list).
        """
        self.describe_share_group(group_id)
        return self._share_group_offsets(group_id)

    def _share_group_offsets(self, group_id: str) -> list[SharePartitionOffsets]:
        response = self.cluster.coordinator_request(
            group_id,
            DESCRIBE_SHARE_GROUP_OFFSETS,
            {"groups": [{"group_id": group_id, "topics": None}]},
            lambda response: _group_error(_only(response.groups, "group")),
        )
        group = _only(response.groups, "group")
        raise_for_error_code(
            group.error_code, group.error_message, context=f"offsets of share group {group_id!r}"
        )
        described: list[tuple[TopicPartition, Struct]] = []
        for topic in group.topics:
            for partition in topic.partitions:
                raise_for_error_code(
                    partition.error_code,
                    partition.error_message,
                    context=f"offsets of share group {group_id!r} on "
                    f"{topic.topic_name}-{partition.partition_index}",
                )
                described.append(
                    (TopicPartition(topic.topic_name, partition.partition_index), partition)
                )
        end_offsets = self.list_offsets(
            [tp for tp, _ in described], LATEST_TIMESTAMP, skip_unknown=True
        )
        offsets = []
        for tp, partition in sorted(described, key=lambda item: item[0]):
            start = partition.start_offset if partition.start_offset >= 0 else None
            end = end_offsets.get(tp)
            if partition.lag >= 0:
                lag = partition.lag
            elif start is not None and end is not None:
                lag = max(end - start, 0)
            else:
                lag = None
            offsets.append(
                SharePartitionOffsets(
                    topic=tp.topic,
                    partition=tp.partition,
                    start_offset=start,
                    log_end_offset=end,
                    lag=lag,
                    leader_epoch=partition.leader_epoch if partition.leader_epoch >= 0 else None,
                )
            )
        return offsets

    def reset_share_group_offsets(
        self,
        group_id: str,
        to: ResetTarget,
        *,
        topics: Iterable[str] | None = None,
        dry_run: bool = False,
    ) -> ShareGroupOffsetsReset:
        """Move the SPSO of a share group's partitions.

        ``to`` is ``"earliest"``, ``"latest"``, a datetime (the first offset whose record
        timestamp is at or after it; the log end when there is none; a naive datetime is local
        time, as in Kafka's own tool) or a ``{(topic, partition): offset}`` mapping.
        Without a mapping the partitions are those the group already knows, narrowed to
        ``topics`` when given; naming ``topics`` also covers partitions the group has not
        initialised yet. The group must exist and be a share group
        (:class:`~.errors.GroupIdNotFoundError` otherwise). The broker refuses a reset while
        the group has members (:class:`~.errors.NonEmptyGroupError`); ``dry_run`` only
        computes the new offsets.
        """
        if not isinstance(to, Mapping | datetime) and to not in ("earliest", "latest"):
            raise ValueError(
                f"cannot reset to {to!r}: use 'earliest', 'latest', a datetime or a mapping"
            )
        current = {
            TopicPartition(entry.topic, entry.partition): entry.start_offset
            for entry in self.share_group_offsets(group_id)
        }
        targets = self._reset_targets(current, to, topics)
        resets = tuple(
            OffsetReset(tp.topic, tp.partition, current.get(tp), offset)
            for tp, offset in sorted(targets.items())
        )
        if not dry_run and resets:
            self._alter_share_group_offsets(group_id, targets)
        return ShareGroupOffsetsReset(group_id=group_id, dry_run=dry_run, partitions=resets)

    def _reset_targets(
        self,
        current: Mapping[TopicPartition, int | None],
        to: ResetTarget,
        topics: Iterable[str] | None,
    ) -> dict[TopicPartition, int]:
        if isinstance(to, Mapping):
            targets = {TopicPartition(*key): int(offset) for key, offset in to.items()}
            negative = [tp for tp, offset in targets.items() if offset < 0]
            if negative:
                raise ValueError(f"offsets must not be negative: {negative}")
            return targets
        partitions = set(current)
        if topics is not None:
            wanted = set(topics)
            partitions = {tp for tp in partitions if tp.topic in wanted}
            metadata = self.cluster.metadata(sorted(wanted))
            for name in sorted(wanted):
                topic = metadata.topics.get(name)
                if topic is None or topic.error_code:
                    raise error_for_code(
                        topic.error_code if topic else UnknownTopicOrPartitionError.code,
                        context=f"topic {name!r}",
                    )
                partitions |= {TopicPartition(name, index) for index in topic.partitions}
        if to == "earliest":
            return self.list_offsets(partitions, EARLIEST_TIMESTAMP)
        if to == "latest":
            return self.list_offsets(partitions, LATEST_TIMESTAMP)
        if isinstance(to, datetime):
            by_time = self.list_offsets(partitions, int(to.timestamp() * 1000))
            missing = [tp for tp, offset in by_time.items() if offset < 0]
            if missing:
                by_time.update(self.list_offsets(missing, LATEST_TIMESTAMP))
            return by_time
        raise ValueError(
            f"cannot reset to {to!r}: use 'earliest', 'latest', a datetime or a mapping"
        )

    def _alter_share_group_offsets(
        self, group_id: str, targets: Mapping[TopicPartition, int]
    ) -> None:
        by_topic: dict[str, list[dict[str, int]]] = defaultdict(list)
        for tp, offset in sorted(targets.items()):
            by_topic[tp.topic].append({"partition_index": tp.partition, "start_offset": offset})
        body = {
            "group_id": group_id,
            "topics": [
                {"topic_name": topic, "partitions": partitions}
                for topic, partitions in by_topic.items()
            ],
        }
        response = self.cluster.coordinator_request(
            group_id,
            ALTER_SHARE_GROUP_OFFSETS,
            body,
            lambda response: (response.error_code, response.error_message),
        )
        context = f"resetting offsets of share group {group_id!r}"
        raise_for_error_code(response.error_code, response.error_message, context=context)
        for topic in response.responses:
            for partition in topic.partitions:
                raise_for_error_code(
                    partition.error_code,
                    partition.error_message,
                    context=f"{context} on {topic.topic_name}-{partition.partition_index}",
                )

    def delete_share_group_offsets(self, group_id: str, topics: Iterable[str]) -> None:
        """Forget the share group's state (SPSO and in-flight records) for whole topics."""
        names = list(topics)
        response = self.cluster.coordinator_request(
            group_id,
            DELETE_SHARE_GROUP_OFFSETS,
            {"group_id": group_id, "topics": [{"topic_name": name} for name in names]},
            lambda response: (response.error_code, response.error_message),
            idempotent=False,
        )
        context = f"deleting offsets of share group {group_id!r}"
        raise_for_error_code(response.error_code, response.error_message, context=context)
        for topic in response.responses:
            raise_for_error_code(
                topic.error_code, topic.error_message, context=f"{context} for {topic.topic_name}"
            )

    def list_offsets(
        self, partitions: Iterable[tuple[str, int]], timestamp: int, *, skip_unknown: bool = False
    ) -> dict[TopicPartition, int]:
        """ListOffsets on each partition's leader: ``LATEST_TIMESTAMP`` (-1) gives the log end,
        ``EARLIEST_TIMESTAMP`` (-2) the log start, a millisecond timestamp the first offset at or
        after it (``-1`` when no record is that recent).

        Partitions missing from the cluster raise :class:`~.errors.UnknownTopicOrPartitionError`,
        or are left out of the result with ``skip_unknown`` (a topic deleted meanwhile).
        """
        pending = {TopicPartition(*tp) for tp in partitions}
        found: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + self.cluster.config.request_timeout
        while pending:
            metadata = self.cluster.metadata(sorted({tp.topic for tp in pending}))
            by_leader: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
            stale = False
            for tp in sorted(pending):
                topic = metadata.topics.get(tp.topic)
                if topic is None or tp.partition not in topic.partition_leaders:
                    if skip_unknown:
                        pending.discard(tp)
                        continue
                    raise UnknownTopicOrPartitionError(context=f"{tp.topic}-{tp.partition}")
                leader = topic.partition_leaders[tp.partition]
                if leader < 0:
                    stale = True
                    continue
                by_leader[leader][tp.topic].append(tp.partition)
            for leader, topics in by_leader.items():
                body = {
                    "replica_id": _CONSUMER_REPLICA_ID,
                    "isolation_level": _READ_UNCOMMITTED,
                    "topics": [
                        {
                            "name": topic,
                            "partitions": [
                                {"partition_index": index, "timestamp": timestamp}
                                for index in indexes
                            ],
                        }
                        for topic, indexes in topics.items()
                    ],
                    "timeout_ms": int(self.cluster.config.request_timeout * 1000),
                }
                response = self.cluster.request(LIST_OFFSETS, body, node_id=leader)
                for topic in response.topics:
                    for partition in topic.partitions:
                        tp = TopicPartition(topic.name, partition.partition_index)
                        if partition.error_code in LEADER_MOVED_ERROR_CODES:
                            stale = True
                            continue
                        raise_for_error_code(
                            partition.error_code,
                            context=f"ListOffsets on {tp.topic}-{tp.partition}",
                        )
                        found[tp] = partition.offset
                        pending.discard(tp)
            if pending and stale:
                if time.monotonic() >= deadline:
                    raise error_for_code(
                        ErrorCode.NOT_LEADER_OR_FOLLOWER, context=f"no leader for {sorted(pending)}"
                    )
                time.sleep(self.cluster.config.retry_backoff)
            elif pending:
                raise UnknownTopicOrPartitionError(
                    context=f"no offsets returned for {sorted(pending)}"
                )
        return found

    # -- configs --------------------------------------------------------------------------

    def describe_share_group_config(
        self, group_id: str, *, include_all: bool = False
    ) -> dict[str, ConfigEntry]:
        """The group's configs that apply to share groups (all group configs if ``include_all``)."""
        entries = self.describe_configs(
            RESOURCE_TYPE_GROUP, group_id, documentation=True, what=f"group {group_id!r}"
        )
        return {
            name: entry
            for name, entry in sorted(entries.items())
            if include_all or name.startswith(SHARE_GROUP_CONFIG_PREFIXES)
        }

    def describe_configs(
        self,
        resource_type: int,
        name: str,
        keys: list[str] | None = None,
        *,
        documentation: bool = False,
        what: str | None = None,
    ) -> dict[str, ConfigEntry]:
        """DescribeConfigs of one resource (a group, topic or broker: ``RESOURCE_TYPE_*``):
        ``keys`` or all its configs; ``what`` names it in errors."""
        response = self.cluster.request(
            DESCRIBE_CONFIGS,
            {
                "resources": [
                    {
                        "resource_type": resource_type,
                        "resource_name": name,
                        "configuration_keys": keys,
                    }
                ],
                "include_synonyms": False,
                "include_documentation": documentation,
            },
        )
        result = _only(response.results, "result")
        raise_for_error_code(
            result.error_code, result.error_message, context=f"configs of {what or repr(name)}"
        )
        return {
            config.name: ConfigEntry(
                name=config.name,
                value=config.value,
                source=CONFIG_SOURCES.get(config.config_source, "UNKNOWN"),
                read_only=config.read_only,
                sensitive=config.is_sensitive,
                documentation=config.documentation if documentation else None,
            )
            for config in result.configs
        }

    def alter_share_group_config(
        self,
        group_id: str,
        changes: Mapping[str, str | int | bool | None],
        *,
        validate_only: bool = False,
    ) -> None:
        """Set group configs (``None`` removes the group's own value, restoring the default).

        For example ``{"share.record.lock.duration.ms": 60000, "share.auto.offset.reset":
        "earliest", "errors.deadletterqueue.topic.name": "orders.dlq"}`` (the DLQ topic needs a
        broker with KIP-1191, ``share.version=2``).
        """
        configs = []
        for name, value in changes.items():
            if value is None:
                configs.append(
                    {"name": name, "config_operation": CONFIG_OPERATION_DELETE, "value": None}
                )
            else:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                configs.append(
                    {"name": name, "config_operation": CONFIG_OPERATION_SET, "value": str(value)}
                )
        response = self.cluster.request(
            INCREMENTAL_ALTER_CONFIGS,
            {
                "resources": [
                    {
                        "resource_type": RESOURCE_TYPE_GROUP,
                        "resource_name": group_id,
                        "configs": configs,
                    }
                ],
                "validate_only": validate_only,
            },
        )
        result = _only(response.responses, "resource")
        raise_for_error_code(
            result.error_code,
            result.error_message,
            context=f"altering configs of group {group_id!r}",
        )

    # -- helpers --------------------------------------------------------------------------

    def _retrying(
        self, send: Callable[[], Struct], error_of: Callable[[Struct], tuple[int, str | None]]
    ) -> Struct:
        """Repeat ``send()`` while the error it reports is retriable, until the timeout."""
        deadline = time.monotonic() + self.cluster.config.request_timeout
        while True:
            response = send()
            code, _ = error_of(response)
            if code not in RETRIABLE_ERROR_CODES or time.monotonic() >= deadline:
                return response
            time.sleep(self.cluster.config.retry_backoff)
