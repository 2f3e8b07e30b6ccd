"""Errors of the Kafka client: broker error codes as typed exceptions, plus client-side failures.

Every broker error keeps the broker's error name (``NON_EMPTY_GROUP``) and the broker's own
message, because those are what an operator searches for. Codes the share-group admin acts
on get their own class; any other code raises a plain :class:`BrokerError` with its name.
"""

from __future__ import annotations

from django_sharegroups.exceptions import ShareGroupsError


class KafkaError(ShareGroupsError):
    """Base class of every error raised by ``django_sharegroups.kafka``."""


class ProtocolError(KafkaError):
    """Bytes that do not follow the Kafka protocol (truncated, malformed, unexpected)."""


class KafkaConnectionError(KafkaError):
    """A broker could not be reached, or the connection broke mid-request."""


class KafkaTimeoutError(KafkaConnectionError):
    """A broker did not answer within the configured timeout."""


class AuthenticationError(KafkaError):
    """SASL or TLS authentication failed, or is configured in a way this client cannot do."""


class UnsupportedApiError(KafkaError):
    """The broker lacks an API (or every version of it this client speaks)."""

    def __init__(self, api_name: str, api_key: int, detail: str) -> None:
        super().__init__(f"{api_name} (api key {api_key}): {detail}")
        self.api_name = api_name
        self.api_key = api_key


ERROR_NAMES: dict[int, str] = {
    -1: "UNKNOWN_SERVER_ERROR",
    1: "OFFSET_OUT_OF_RANGE",
    2: "CORRUPT_MESSAGE",
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    4: "INVALID_FETCH_SIZE",
    5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER",
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    9: "REPLICA_NOT_AVAILABLE",
    10: "MESSAGE_TOO_LARGE",
    11: "STALE_CONTROLLER_EPOCH",
    12: "OFFSET_METADATA_TOO_LARGE",
    13: "NETWORK_EXCEPTION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
    17: "INVALID_TOPIC_EXCEPTION",
    18: "RECORD_LIST_TOO_LARGE",
    19: "NOT_ENOUGH_REPLICAS",
    20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    21: "INVALID_REQUIRED_ACKS",
    22: "ILLEGAL_GENERATION",
    23: "INCONSISTENT_GROUP_PROTOCOL",
    24: "INVALID_GROUP_ID",
    25: "UNKNOWN_MEMBER_ID",
    26: "INVALID_SESSION_TIMEOUT",
    27: "REBALANCE_IN_PROGRESS",
    28: "INVALID_COMMIT_OFFSET_SIZE",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    31: "CLUSTER_AUTHORIZATION_FAILED",
    32: "INVALID_TIMESTAMP",
    33: "UNSUPPORTED_SASL_MECHANISM",
    34: "ILLEGAL_SASL_STATE",
    35: "UNSUPPORTED_VERSION",
    36: "TOPIC_ALREADY_EXISTS",
    37: "INVALID_PARTITIONS",
    38: "INVALID_REPLICATION_FACTOR",
    39: "INVALID_REPLICA_ASSIGNMENT",
    40: "INVALID_CONFIG",
    41: "NOT_CONTROLLER",
    42: "INVALID_REQUEST",
    43: "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    44: "POLICY_VIOLATION",
    45: "OUT_OF_ORDER_SEQUENCE_NUMBER",
    46: "DUPLICATE_SEQUENCE_NUMBER",
    47: "INVALID_PRODUCER_EPOCH",
    48: "INVALID_TXN_STATE",
    49: "INVALID_PRODUCER_ID_MAPPING",
    50: "INVALID_TRANSACTION_TIMEOUT",
    51: "CONCURRENT_TRANSACTIONS",
    52: "TRANSACTION_COORDINATOR_FENCED",
    53: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    54: "SECURITY_DISABLED",
    55: "OPERATION_NOT_ATTEMPTED",
    56: "KAFKA_STORAGE_ERROR",
    57: "LOG_DIR_NOT_FOUND",
    58: "SASL_AUTHENTICATION_FAILED",
    59: "UNKNOWN_PRODUCER_ID",
    60: "REASSIGNMENT_IN_PROGRESS",
    61: "DELEGATION_TOKEN_AUTH_DISABLED",
    62: "DELEGATION_TOKEN_NOT_FOUND",
    63: "DELEGATION_TOKEN_OWNER_MISMATCH",
    64: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
    65: "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
    66: "DELEGATION_TOKEN_EXPIRED",
    67: "INVALID_PRINCIPAL_TYPE",
    68: "NON_EMPTY_GROUP",
    69: "GROUP_ID_NOT_FOUND",
    70: "FETCH_SESSION_ID_NOT_FOUND",
    71: "INVALID_FETCH_SESSION_EPOCH",
    72: "LISTENER_NOT_FOUND",
    73: "TOPIC_DELETION_DISABLED",
    74: "FENCED_LEADER_EPOCH",
    75: "UNKNOWN_LEADER_EPOCH",
    76: "UNSUPPORTED_COMPRESSION_TYPE",
    77: "STALE_BROKER_EPOCH",
    78: "OFFSET_NOT_AVAILABLE",
    79: "MEMBER_ID_REQUIRED",
    80: "PREFERRED_LEADER_NOT_AVAILABLE",
    81: "GROUP_MAX_SIZE_REACHED",
    82: "FENCED_INSTANCE_ID",
    83: "ELIGIBLE_LEADERS_NOT_AVAILABLE",
    84: "ELECTION_NOT_NEEDED",
    85: "NO_REASSIGNMENT_IN_PROGRESS",
    86: "GROUP_SUBSCRIBED_TO_TOPIC",
    87: "INVALID_RECORD",
    88: "UNSTABLE_OFFSET_COMMIT",
    89: "THROTTLING_QUOTA_EXCEEDED",
    90: "PRODUCER_FENCED",
    91: "RESOURCE_NOT_FOUND",
    92: "DUPLICATE_RESOURCE",
    93: "UNACCEPTABLE_CREDENTIAL",
    94: "INCONSISTENT_VOTER_SET",
    95: "INVALID_UPDATE_VERSION",
    96: "FEATURE_UPDATE_FAILED",
    97: "PRINCIPAL_DESERIALIZATION_FAILURE",
    98: "SNAPSHOT_NOT_FOUND",
    99: "POSITION_OUT_OF_RANGE",
    100: "UNKNOWN_TOPIC_ID",
    101: "DUPLICATE_BROKER_REGISTRATION",
    102: "BROKER_ID_NOT_REGISTERED",
    103: "INCONSISTENT_TOPIC_ID",
    104: "INCONSISTENT_CLUSTER_ID",
    105: "TRANSACTIONAL_ID_NOT_FOUND",
    106: "FETCH_SESSION_TOPIC_ID_ERROR",
    107: "INELIGIBLE_REPLICA",
    108: "NEW_LEADER_ELECTED",
    109: "OFFSET_MOVED_TO_TIERED_STORAGE",
    110: "FENCED_MEMBER_EPOCH",
    111: "UNRELEASED_INSTANCE_ID",
    112: "UNSUPPORTED_ASSIGNOR",
    113: "STALE_MEMBER_EPOCH",
    114: "MISMATCHED_ENDPOINT_TYPE",
    115: "UNSUPPORTED_ENDPOINT_TYPE",
    116: "UNKNOWN_CONTROLLER_ID",
    117: "UNKNOWN_SUBSCRIPTION_ID",
    118: "TELEMETRY_TOO_LARGE",
    119: "INVALID_REGISTRATION",
    120: "TRANSACTION_ABORTABLE",
    121: "INVALID_RECORD_STATE",
    122: "SHARE_SESSION_NOT_FOUND",
    123: "INVALID_SHARE_SESSION_EPOCH",
    124: "FENCED_STATE_EPOCH",
    125: "INVALID_VOTER_KEY",
    126: "DUPLICATE_VOTER",
    127: "VOTER_NOT_FOUND",
    128: "INVALID_REGULAR_EXPRESSION",
    129: "REBOOTSTRAP_REQUIRED",
    130: "STREAMS_INVALID_TOPOLOGY",
    131: "STREAMS_INVALID_TOPOLOGY_EPOCH",
    132: "STREAMS_TOPOLOGY_FENCED",
    133: "SHARE_SESSION_LIMIT_REACHED",
    134: "GROUP_DELETION_FAILED",
    135: "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED",
    136: "CONTROLLER_ID_NOT_REGISTERED",
}
"""Kafka's error code → error name table (``org.apache.kafka.common.protocol.Errors``, 4.4)."""

RETRIABLE_ERROR_CODES = frozenset(
    {2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88}
    | {89, 100, 103, 106, 122, 123, 133}
)
"""Codes the broker marks as retriable: the same request may succeed later."""


def error_name(code: int) -> str:
    """Kafka's name for an error code (``UNKNOWN_ERROR_CODE_<n>`` when newer than this table)."""
    if code == 0:
        return "NONE"
    return ERROR_NAMES.get(code, f"UNKNOWN_ERROR_CODE_{code}")


class BrokerError(KafkaError):
    """An error code returned by a broker, with the broker's error name and message."""

    code: int = -1

    def __init__(self, message: str | None = None, *, code: int | None = None, context: str = ""):
        if code is not None:
            self.code = code
        self.name = error_name(self.code)
        self.broker_message = message
        self.retriable = self.code in RETRIABLE_ERROR_CODES
        text = self.name
        if context:
            text = f"{context}: {text}"
        if message:
            text = f"{text}: {message}"
        super().__init__(text)


_CLASS_BY_CODE: dict[int, type[BrokerError]] = {}


def _register(code: int):
    def decorate(cls: type[BrokerError]) -> type[BrokerError]:
        cls.code = code
        _CLASS_BY_CODE[code] = cls
        return cls

    return decorate


@_register(-1)
class UnknownServerError(BrokerError):
    """The broker hit an unexpected error; its log says more."""


@_register(3)
class UnknownTopicOrPartitionError(BrokerError):
    """The topic or partition does not exist on the broker."""


@_register(6)
class NotLeaderOrFollowerError(BrokerError):
    """The broker is not the leader of the partition (stale metadata)."""


@_register(7)
class RequestTimedOutError(BrokerError):
    """The broker gave up on the request before it completed."""


@_register(14)
class CoordinatorLoadInProgressError(BrokerError):
    """The group coordinator is still loading its state; retry."""


@_register(15)
class CoordinatorNotAvailableError(BrokerError):
    """No group coordinator is available yet; retry."""


@_register(16)
class NotCoordinatorError(BrokerError):
    """The broker is no longer the coordinator of the group; find it again."""


@_register(17)
class InvalidTopicError(BrokerError):
    """The topic name is invalid or refers to an internal topic."""


@_register(24)
class InvalidGroupIdError(BrokerError):
    """The group id is invalid (or the group is of another type)."""


@_register(29)
class TopicAuthorizationFailedError(BrokerError):
    """The principal may not access the topic."""


@_register(30)
class GroupAuthorizationFailedError(BrokerError):
    """The principal may not access the group."""


@_register(31)
class ClusterAuthorizationFailedError(BrokerError):
    """The principal may not perform the cluster action."""


@_register(32)
class InvalidTimestampError(BrokerError):
    """The timestamp is out of the accepted range."""


@_register(33)
class UnsupportedSaslMechanismError(BrokerError):
    """The broker does not enable the requested SASL mechanism."""


@_register(34)
class IllegalSaslStateError(BrokerError):
    """A SASL request arrived in the wrong order."""


@_register(35)
class UnsupportedVersionError(BrokerError):
    """The broker does not support the request's version."""


@_register(40)
class InvalidConfigError(BrokerError):
    """A config name or value was rejected."""


@_register(42)
class InvalidRequestError(BrokerError):
    """The broker rejected the request as invalid."""


@_register(44)
class PolicyViolationError(BrokerError):
    """A broker-side policy rejected the request."""


@_register(58)
class SaslAuthenticationFailedError(BrokerError, AuthenticationError):
    """The broker rejected the SASL credentials."""


@_register(68)
class NonEmptyGroupError(BrokerError):
    """The group still has members, so the operation is refused."""


@_register(69)
class GroupIdNotFoundError(BrokerError):
    """The group does not exist."""


@_register(86)
class GroupSubscribedToTopicError(BrokerError):
    """The group is still subscribed to the topic."""


@_register(91)
class ResourceNotFoundError(BrokerError):
    """The config resource does not exist."""


@_register(100)
class UnknownTopicIdError(BrokerError):
    """The topic id is unknown to the broker."""


@_register(121)
class InvalidRecordStateError(BrokerError):
    """The record is not in a state that allows the operation."""


@_register(134)
class GroupDeletionFailedError(BrokerError):
    """The coordinator could not delete the group."""


def error_for_code(code: int, message: str | None = None, context: str = "") -> BrokerError:
    """The typed exception for a broker error code (a plain :class:`BrokerError` if untyped)."""
    cls = _CLASS_BY_CODE.get(code)
    if cls is None:
        return BrokerError(message, code=code, context=context)
    return cls(message, context=context)


def raise_for_error_code(code: int, message: str | None = None, context: str = "") -> None:
    """Raise the typed exception for ``code`` unless it is ``0`` (NONE)."""
    if code != 0:
        raise error_for_code(code, message, context)
