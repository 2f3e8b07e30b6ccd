"""Definitions of every RPC this client speaks, and a registry by api key.

To support another RPC, transcribe its request and response schema from Kafka's
``clients/src/main/resources/common/message/`` into a module here and list it in ``APIS``.
"""

from ..schema import Api
from .cluster import API_VERSIONS, FIND_COORDINATOR, METADATA
from .configs import DESCRIBE_CONFIGS, INCREMENTAL_ALTER_CONFIGS
from .groups import DELETE_GROUPS, LIST_GROUPS, SHARE_GROUP_DESCRIBE
from .headers import REQUEST_HEADER, RESPONSE_HEADER
from .offsets import LIST_OFFSETS
from .sasl import SASL_AUTHENTICATE, SASL_HANDSHAKE
from .share_consumer import SHARE_ACKNOWLEDGE, SHARE_FETCH, SHARE_GROUP_HEARTBEAT
from .share_offsets import (
    ALTER_SHARE_GROUP_OFFSETS,
    DELETE_SHARE_GROUP_OFFSETS,
    DESCRIBE_SHARE_GROUP_OFFSETS,
)
from .topics import CREATE_TOPICS

APIS: tuple[Api, ...] = (
    LIST_OFFSETS,
    METADATA,
    FIND_COORDINATOR,
    LIST_GROUPS,
    SASL_HANDSHAKE,
    API_VERSIONS,
    DESCRIBE_CONFIGS,
    SASL_AUTHENTICATE,
    DELETE_GROUPS,
    INCREMENTAL_ALTER_CONFIGS,
    SHARE_GROUP_DESCRIBE,
    DESCRIBE_SHARE_GROUP_OFFSETS,
    ALTER_SHARE_GROUP_OFFSETS,
    DELETE_SHARE_GROUP_OFFSETS,
)

API_BY_KEY: dict[int, Api] = {api.key: api for api in APIS}

#: The share consumer's data plane (used by the ``native`` client adapter). Kept apart from
#: ``APIS`` because the admin client's recorded-frame suite covers every API listed there;
#: ``tests/native`` checks these against frames recorded from Kafka 4.4 instead.
SHARE_CONSUMER_APIS: tuple[Api, ...] = (SHARE_GROUP_HEARTBEAT, SHARE_FETCH, SHARE_ACKNOWLEDGE)

#: Topic administration for the broker-side DLQ; checked against a live Kafka 4.4 broker by
#: ``tests/faults/test_broker_dlq.py`` (no recorded frames).
TOPIC_APIS: tuple[Api, ...] = (CREATE_TOPICS,)

__all__ = [
    "ALTER_SHARE_GROUP_OFFSETS",
    "APIS",
    "CREATE_TOPICS",
    "API_BY_KEY",
    "API_VERSIONS",
    "DELETE_GROUPS",
    "DELETE_SHARE_GROUP_OFFSETS",
    "DESCRIBE_CONFIGS",
    "DESCRIBE_SHARE_GROUP_OFFSETS",
    "FIND_COORDINATOR",
    "INCREMENTAL_ALTER_CONFIGS",
    "LIST_GROUPS",
    "LIST_OFFSETS",
    "METADATA",
    "REQUEST_HEADER",
    "RESPONSE_HEADER",
    "SASL_AUTHENTICATE",
    "SASL_HANDSHAKE",
    "SHARE_ACKNOWLEDGE",
    "SHARE_CONSUMER_APIS",
    "SHARE_FETCH",
    "SHARE_GROUP_DESCRIBE",
    "SHARE_GROUP_HEARTBEAT",
    "TOPIC_APIS",
]
