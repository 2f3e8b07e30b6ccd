"""Results as JSON-ready data: ``sharegroups --json`` prints it, the audit log stores it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ..kafka import (
    BrokerError,
    ConfigEntry,
    ShareGroupDescription,
    ShareGroupOffsetsReset,
    SharePartitionOffsets,
)
from ..kafka.hints import connection_hint
from .overview import (
    ResetRow,
    ShareGroupOverview,
    ShareGroupSummary,
    format_host,
    total_lag,
)


def summaries_data(summaries: Sequence[ShareGroupSummary]) -> list[dict[str, Any]]:
    return [asdict(summary) for summary in summaries]


def description_data(description: ShareGroupDescription) -> dict[str, Any]:
    return {
        "group_id": description.group_id,
        "state": description.state,
        "group_epoch": description.group_epoch,
        "assignment_epoch": description.assignment_epoch,
        "assignor_name": description.assignor_name,
        "members": [
            {
                "member_id": member.member_id,
                "member_epoch": member.member_epoch,
                "client_id": member.client_id,
                "client_host": member.client_host,
                "host": format_host(member.client_host),
                "rack_id": member.rack_id,
                "subscribed_topic_names": list(member.subscribed_topic_names),
                "assignment": {
                    topic: list(partitions) for topic, partitions in member.assignment.items()
                },
            }
            for member in description.members
        ],
    }


def offsets_data(offsets: Sequence[SharePartitionOffsets]) -> list[dict[str, Any]]:
    return [
        {
            "topic": entry.topic,
            "partition": entry.partition,
            "start_offset": entry.start_offset,
            "log_end_offset": entry.log_end_offset,
            "lag": entry.lag,
        }
        for entry in offsets
    ]


def group_offsets_data(group_id: str, offsets: Sequence[SharePartitionOffsets]) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "total_lag": total_lag(offsets),
        "partitions": offsets_data(offsets),
    }


def overview_data(overview: ShareGroupOverview) -> dict[str, Any]:
    data = description_data(overview.description)
    data["total_lag"] = overview.total_lag
    data["partitions"] = offsets_data(overview.offsets)
    if overview.configs is not None:
        data["configs"] = configs_data(overview.configs)
    return data


def reset_data(
    reset: ShareGroupOffsetsReset, rows: Sequence[ResetRow] | None = None
) -> dict[str, Any]:
    """The plan or result; with ``rows`` also each partition's log end and lag before/after."""
    if rows is None:
        partitions = [asdict(partition) for partition in reset.partitions]
    else:
        partitions = [{**asdict(row), "lag_after": row.lag_after} for row in rows]
    return {"group_id": reset.group_id, "dry_run": reset.dry_run, "partitions": partitions}


def configs_data(configs: Mapping[str, ConfigEntry]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "value": entry.value,
            "source": entry.source,
            "is_default": entry.is_default,
            "read_only": entry.read_only,
            "sensitive": entry.sensitive,
        }
        for name, entry in configs.items()
    }


def config_values(
    configs: Mapping[str, ConfigEntry], names: Sequence[str]
) -> dict[str, dict[str, Any] | None]:
    """The value and source of each of ``names`` (``None`` for a name the broker lacks)."""
    values: dict[str, dict[str, Any] | None] = {}
    for name in names:
        entry = configs.get(name)
        values[name] = {"value": entry.value, "source": entry.source} if entry is not None else None
    return values


ERROR_HINTS = {
    "NON_EMPTY_GROUP": "The group still has members: stop its consumers (or wait until their "
    "sessions time out) and try again.",
    "GROUP_ID_NOT_FOUND": "There is no share group of that name on the cluster.",
    "INVALID_CONFIG": "The broker rejected a config name or value; its message says which.",
    "GROUP_AUTHORIZATION_FAILED": "The Kafka principal of SHAREGROUPS['KAFKA'] may not "
    "operate on this group (ACLs).",
}
"""What to do about the broker errors people meet most, shown under the broker's own words."""


def error_data(error: BaseException) -> dict[str, Any]:
    """``{"error": "NON_EMPTY_GROUP", "message": <broker's message>, "detail": <full text>,
    "from_broker": true}``; errors that are not the broker's carry their class name."""
    if isinstance(error, BrokerError):
        return {
            "error": error.name,
            "message": error.broker_message,
            "detail": str(error),
            "from_broker": True,
            "hint": ERROR_HINTS.get(error.name) or connection_hint(error),
        }
    return {
        "error": type(error).__name__,
        "message": str(error),
        "detail": str(error),
        "from_broker": False,
        "hint": connection_hint(error),
    }
