"""A share group's state gathered in one place: description, offsets, lag and configs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..kafka import (
    ConfigEntry,
    KafkaError,
    ShareGroupAdmin,
    ShareGroupDescription,
    ShareGroupListing,
    ShareGroupOffsetsReset,
    SharePartitionOffsets,
)


def total_lag(offsets: Sequence[SharePartitionOffsets]) -> int | None:
    """Records of all partitions not yet acknowledged; ``None`` when no partition reports lag.

    Lag is the number to watch: the SPSO the broker reports can stay put while the group
    consumes (it follows the share coordinator's persisted state), the lag does not.
    """
    known = [entry.lag for entry in offsets if entry.lag is not None]
    return sum(known) if known else None


def format_host(client_host: str) -> str:
    """Kafka reports a member's host as Java's ``InetAddress.toString()``: ``"name/1.2.3.4"``
    or ``"/1.2.3.4"``; people want ``"name (1.2.3.4)"`` or ``"1.2.3.4"``."""
    name, slash, address = client_host.partition("/")
    if not slash:
        return client_host
    if not name:
        return address
    return f"{name} ({address})" if address else name


def format_assignment(assignment: Mapping[str, Sequence[int]]) -> str:
    """``{"orders": (0, 1)}`` → ``"orders: 0, 1"`` (topics separated by ``"; "``)."""
    return "; ".join(
        f"{topic}: {', '.join(str(partition) for partition in partitions)}"
        for topic, partitions in sorted(assignment.items())
    )


CONFIG_SOURCE_LABELS = {
    "GROUP_CONFIG": "set on this group",
    "DEFAULT_CONFIG": "default",
    "STATIC_BROKER_CONFIG": "broker config",
    "DYNAMIC_BROKER_CONFIG": "broker config (dynamic)",
    "DYNAMIC_DEFAULT_BROKER_CONFIG": "cluster default (dynamic)",
}


def config_source_label(source: str) -> str:
    """Where a config value comes from, in words (``GROUP_CONFIG`` → ``set on this group``)."""
    return CONFIG_SOURCE_LABELS.get(source, source.lower().replace("_", " "))


@dataclass(frozen=True)
class ResetRow:
    """One partition of a reset plan with what it means: how many records the group will
    have to deliver afterwards (the SPSO alone can look unchanged, see :func:`total_lag`)."""

    topic: str
    partition: int
    before: int | None
    after: int
    log_end_offset: int | None
    lag_before: int | None

    @property
    def lag_after(self) -> int | None:
        if self.log_end_offset is None:
            return None
        return max(self.log_end_offset - self.after, 0)


def reset_rows(
    plan: ShareGroupOffsetsReset, offsets: Sequence[SharePartitionOffsets]
) -> list[ResetRow]:
    """Join a reset plan with the partitions' current offsets (log end, lag)."""
    current = {(entry.topic, entry.partition): entry for entry in offsets}
    rows = []
    for partition in plan.partitions:
        entry = current.get((partition.topic, partition.partition))
        rows.append(
            ResetRow(
                partition.topic,
                partition.partition,
                partition.before,
                partition.after,
                entry.log_end_offset if entry else None,
                entry.lag if entry else None,
            )
        )
    return rows


@dataclass(frozen=True)
class ShareGroupOverview:
    """Everything the detail page and ``sharegroups describe`` show about one group."""

    description: ShareGroupDescription
    offsets: list[SharePartitionOffsets]
    configs: dict[str, ConfigEntry] | None = None

    @property
    def total_lag(self) -> int | None:
        return total_lag(self.offsets)


def load_overview(
    admin: ShareGroupAdmin, group_id: str, *, with_configs: bool = True
) -> ShareGroupOverview:
    """Describe ``group_id`` (raising the broker's error if it is not a share group)."""
    description = admin.describe_share_group(group_id)
    offsets = admin.share_group_offsets(group_id)
    configs = admin.describe_share_group_config(group_id) if with_configs else None
    return ShareGroupOverview(description, offsets, configs)


@dataclass(frozen=True)
class ShareGroupSummary:
    """One row of the list: what ListGroups says plus members and lag when they could be read."""

    group_id: str
    state: str
    members: int | None = None
    total_lag: int | None = None
    error: str | None = None
    """Why members and lag are missing (e.g. the group was deleted meanwhile)."""


def summarize(
    admin: ShareGroupAdmin, listings: Iterable[ShareGroupListing]
) -> list[ShareGroupSummary]:
    """Add members and total lag to listings (two requests per group; page long lists)."""
    summaries = []
    for listing in listings:
        try:
            description = admin.describe_share_group(listing.group_id)
            offsets = admin.share_group_offsets(listing.group_id)
        except KafkaError as error:
            summaries.append(ShareGroupSummary(listing.group_id, listing.state, error=str(error)))
            continue
        summaries.append(
            ShareGroupSummary(
                listing.group_id,
                description.state,
                members=len(description.members),
                total_lag=total_lag(offsets),
            )
        )
    return summaries
