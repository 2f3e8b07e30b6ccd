"""A small Kafka client for what librdkafka lacks: share-group administration (KIP-932).

Layers, each in its own module: :mod:`.protocol` (message definitions and one codec),
:mod:`.connection` (one broker: framing, versions, TLS, SASL, timeouts), :mod:`.cluster`
(bootstrap, metadata, coordinators, retries), :mod:`.admin` (the public share-group API,
results in :mod:`.results`, errors in :mod:`.errors`). This package uses no Django API.
"""

from .admin import ShareGroupAdmin
from .errors import BrokerError, KafkaError, ProtocolError
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

__all__ = [
    "BrokerError",
    "ConfigEntry",
    "KafkaError",
    "OffsetReset",
    "ProtocolError",
    "ShareGroupAdmin",
    "ShareGroupDescription",
    "ShareGroupListing",
    "ShareGroupMember",
    "ShareGroupOffsetsReset",
    "SharePartitionOffsets",
    "TopicPartition",
]
