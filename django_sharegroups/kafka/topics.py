"""Topic and broker look-ups the broker-side DLQ needs: does a topic exist, its configs, the
cluster's DLQ rules, and creating the dead-letter topic. No Django here."""

from __future__ import annotations

from collections.abc import Mapping

from .admin import ShareGroupAdmin
from .errors import raise_for_error_code
from .protocol.messages import CREATE_TOPICS
from .protocol.messages.configs import RESOURCE_TYPE_BROKER, RESOURCE_TYPE_TOPIC

TOPIC_ALREADY_EXISTS = 36
#: Let the broker choose (``num.partitions`` / ``default.replication.factor``).
BROKER_DEFAULT = -1


def topic_configs(admin: ShareGroupAdmin, topic: str, keys: list[str] | None = None) -> dict:
    """``{name: value}`` of an existing topic's configs."""
    entries = admin.describe_configs(RESOURCE_TYPE_TOPIC, topic, keys)
    return {name: entry.value for name, entry in entries.items()}


def broker_configs(admin: ShareGroupAdmin, keys: list[str]) -> dict[str, str | None]:
    """``{name: value}`` of one broker's configs (cluster-wide settings such as the DLQ prefix)."""
    node_id = min(admin.cluster.brokers())
    entries = admin.describe_configs(RESOURCE_TYPE_BROKER, str(node_id), keys)
    return {name: entry.value for name, entry in entries.items()}


def topic_exists(admin: ShareGroupAdmin, topic: str) -> bool:
    metadata = admin.cluster.metadata([topic]).topics.get(topic)
    return metadata is not None and metadata.error_code == 0


def create_topic(
    admin: ShareGroupAdmin,
    name: str,
    *,
    partitions: int = BROKER_DEFAULT,
    replication_factor: int = BROKER_DEFAULT,
    configs: Mapping[str, str] | None = None,
    timeout_ms: int = 30_000,
) -> bool:
    """Create ``name``; False when it existed already (another process was first)."""
    response = admin.cluster.request(
        CREATE_TOPICS,
        {
            "topics": [
                {
                    "name": name,
                    "num_partitions": partitions,
                    "replication_factor": replication_factor,
                    "assignments": [],
                    "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
                }
            ],
            "timeout_ms": timeout_ms,
            "validate_only": False,
        },
        idempotent=False,
    )
    result = response.topics[0]
    if result.error_code == TOPIC_ALREADY_EXISTS:
        return False
    raise_for_error_code(result.error_code, result.error_message, context=f"creating {name!r}")
    return True
