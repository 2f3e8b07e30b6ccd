"""Errors of the Kafka client: broker error codes as typed exceptions, plus client-side failures.

Every broker error keeps the broker's error name (``NON_EMPTY_GROUP``) and the broker's own
message, because those are what an operator searches for. :class:`ErrorCode` is the one
table of Kafka's error codes in this project: every name, flag (retriable, invalid metadata)
and code set the clients act on (leader moved, coordinator moved, share session lost) derives
from it, and each code has exactly one :class:`BrokerError` subclass. Codes the project
catches by class are declared by hand below; the others are made from the table.
"""

from __future__ import annotations

import enum

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


class Flag(enum.IntFlag):
    """What a client may do about an error; Kafka's own classification of its error codes
    (``RetriableException`` and ``InvalidMetadataException`` in the Java client)."""

    NONE = 0
    #: The same request may succeed later.
    RETRIABLE = 1
    #: The client's metadata is stale (leader moved, topic unknown): refresh it, then retry.
    INVALID_METADATA = 2


_R, _M, _ = Flag.RETRIABLE, Flag.INVALID_METADATA, Flag.NONE


class ErrorCode(enum.IntEnum):
    """Every Kafka error code (``org.apache.kafka.common.protocol.Errors``, 4.4) with its flags.

    The one table of error codes in this project: names, flags and the exception classes
    below are all derived from it.
    """

    flags: Flag

    def __new__(cls, code: int, flags: Flag) -> ErrorCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.flags = flags
        return member

    UNKNOWN_SERVER_ERROR = (-1, _)
    OFFSET_OUT_OF_RANGE = (1, _)
    CORRUPT_MESSAGE = (2, _R)
    UNKNOWN_TOPIC_OR_PARTITION = (3, _R | _M)
    INVALID_FETCH_SIZE = (4, _)
    LEADER_NOT_AVAILABLE = (5, _R | _M)
    NOT_LEADER_OR_FOLLOWER = (6, _R | _M)
    REQUEST_TIMED_OUT = (7, _R)
    BROKER_NOT_AVAILABLE = (8, _)
    REPLICA_NOT_AVAILABLE = (9, _R | _M)
    MESSAGE_TOO_LARGE = (10, _)
    STALE_CONTROLLER_EPOCH = (11, _)
    OFFSET_METADATA_TOO_LARGE = (12, _)
    NETWORK_EXCEPTION = (13, _R | _M)
    COORDINATOR_LOAD_IN_PROGRESS = (14, _R)
    COORDINATOR_NOT_AVAILABLE = (15, _R)
    NOT_COORDINATOR = (16, _R)
    INVALID_TOPIC_EXCEPTION = (17, _)
    RECORD_LIST_TOO_LARGE = (18, _)
    NOT_ENOUGH_REPLICAS = (19, _R)
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = (20, _R)
    INVALID_REQUIRED_ACKS = (21, _)
    ILLEGAL_GENERATION = (22, _)
    INCONSISTENT_GROUP_PROTOCOL = (23, _)
    INVALID_GROUP_ID = (24, _)
    UNKNOWN_MEMBER_ID = (25, _)
    INVALID_SESSION_TIMEOUT = (26, _)
    REBALANCE_IN_PROGRESS = (27, _)
    INVALID_COMMIT_OFFSET_SIZE = (28, _)
    TOPIC_AUTHORIZATION_FAILED = (29, _)
    GROUP_AUTHORIZATION_FAILED = (30, _)
    CLUSTER_AUTHORIZATION_FAILED = (31, _)
    INVALID_TIMESTAMP = (32, _)
    UNSUPPORTED_SASL_MECHANISM = (33, _)
    ILLEGAL_SASL_STATE = (34, _)
    UNSUPPORTED_VERSION = (35, _)
    TOPIC_ALREADY_EXISTS = (36, _)
    INVALID_PARTITIONS = (37, _)
    INVALID_REPLICATION_FACTOR = (38, _)
    INVALID_REPLICA_ASSIGNMENT = (39, _)
    INVALID_CONFIG = (40, _)
    NOT_CONTROLLER = (41, _R)
    INVALID_REQUEST = (42, _)
    UNSUPPORTED_FOR_MESSAGE_FORMAT = (43, _)
    POLICY_VIOLATION = (44, _)
    OUT_OF_ORDER_SEQUENCE_NUMBER = (45, _)
    DUPLICATE_SEQUENCE_NUMBER = (46, _)
    INVALID_PRODUCER_EPOCH = (47, _)
    INVALID_TXN_STATE = (48, _)
    INVALID_PRODUCER_ID_MAPPING = (49, _)
    INVALID_TRANSACTION_TIMEOUT = (50, _)
    CONCURRENT_TRANSACTIONS = (51, _R)
    TRANSACTION_COORDINATOR_FENCED = (52, _)
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = (53, _)
    SECURITY_DISABLED = (54, _)
    OPERATION_NOT_ATTEMPTED = (55, _)
    KAFKA_STORAGE_ERROR = (56, _R | _M)
    LOG_DIR_NOT_FOUND = (57, _)
    SASL_AUTHENTICATION_FAILED = (58, _)
    UNKNOWN_PRODUCER_ID = (59, _)
    REASSIGNMENT_IN_PROGRESS = (60, _)
    DELEGATION_TOKEN_AUTH_DISABLED = (61, _)
    DELEGATION_TOKEN_NOT_FOUND = (62, _)
    DELEGATION_TOKEN_OWNER_MISMATCH = (63, _)
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = (64, _)
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = (65, _)
    DELEGATION_TOKEN_EXPIRED = (66, _)
    INVALID_PRINCIPAL_TYPE = (67, _)
    NON_EMPTY_GROUP = (68, _)
    GROUP_ID_NOT_FOUND = (69, _)
    FETCH_SESSION_ID_NOT_FOUND = (70, _R)
    INVALID_FETCH_SESSION_EPOCH = (71, _R)
    LISTENER_NOT_FOUND = (72, _R | _M)
    TOPIC_DELETION_DISABLED = (73, _)
    FENCED_LEADER_EPOCH = (74, _R | _M)
    UNKNOWN_LEADER_EPOCH = (75, _R)
    UNSUPPORTED_COMPRESSION_TYPE = (76, _)
    STALE_BROKER_EPOCH = (77, _)
    OFFSET_NOT_AVAILABLE = (78, _R)
    MEMBER_ID_REQUIRED = (79, _)
    PREFERRED_LEADER_NOT_AVAILABLE = (80, _R | _M)
    GROUP_MAX_SIZE_REACHED = (81, _)
    FENCED_INSTANCE_ID = (82, _)
    ELIGIBLE_LEADERS_NOT_AVAILABLE = (83, _R | _M)
    ELECTION_NOT_NEEDED = (84, _R | _M)
    NO_REASSIGNMENT_IN_PROGRESS = (85, _)
    GROUP_SUBSCRIBED_TO_TOPIC = (86, _)
    INVALID_RECORD = (87, _)
    UNSTABLE_OFFSET_COMMIT = (88, _R)
    THROTTLING_QUOTA_EXCEEDED = (89, _R)
    PRODUCER_FENCED = (90, _)
    RESOURCE_NOT_FOUND = (91, _)
    DUPLICATE_RESOURCE = (92, _)
    UNACCEPTABLE_CREDENTIAL = (93, _)
    INCONSISTENT_VOTER_SET = (94, _)
    INVALID_UPDATE_VERSION = (95, _)
    FEATURE_UPDATE_FAILED = (96, _)
    PRINCIPAL_DESERIALIZATION_FAILURE = (97, _)
    SNAPSHOT_NOT_FOUND = (98, _)
    POSITION_OUT_OF_RANGE = (99, _)
    UNKNOWN_TOPIC_ID = (100, _R | _M)
    DUPLICATE_BROKER_REGISTRATION = (101, _)
    BROKER_ID_NOT_REGISTERED = (102, _)
    INCONSISTENT_TOPIC_ID = (103, _R | _M)
    INCONSISTENT_CLUSTER_ID = (104, _)
    TRANSACTIONAL_ID_NOT_FOUND = (105, _)
    FETCH_SESSION_TOPIC_ID_ERROR = (106, _R)
    INELIGIBLE_REPLICA = (107, _)
    NEW_LEADER_ELECTED = (108, _)
    OFFSET_MOVED_TO_TIERED_STORAGE = (109, _)
    FENCED_MEMBER_EPOCH = (110, _)
    UNRELEASED_INSTANCE_ID = (111, _)
    UNSUPPORTED_ASSIGNOR = (112, _)
    STALE_MEMBER_EPOCH = (113, _)
    MISMATCHED_ENDPOINT_TYPE = (114, _)
    UNSUPPORTED_ENDPOINT_TYPE = (115, _)
    UNKNOWN_CONTROLLER_ID = (116, _)
    UNKNOWN_SUBSCRIPTION_ID = (117, _)
    TELEMETRY_TOO_LARGE = (118, _)
    INVALID_REGISTRATION = (119, _)
    TRANSACTION_ABORTABLE = (120, _)
    INVALID_RECORD_STATE = (121, _)
    SHARE_SESSION_NOT_FOUND = (122, _R)
    INVALID_SHARE_SESSION_EPOCH = (123, _R)
    FENCED_STATE_EPOCH = (124, _)
    INVALID_VOTER_KEY = (125, _)
    DUPLICATE_VOTER = (126, _)
    VOTER_NOT_FOUND = (127, _)
    INVALID_REGULAR_EXPRESSION = (128, _)
    REBOOTSTRAP_REQUIRED = (129, _)
    STREAMS_INVALID_TOPOLOGY = (130, _)
    STREAMS_INVALID_TOPOLOGY_EPOCH = (131, _)
    STREAMS_TOPOLOGY_FENCED = (132, _)
    SHARE_SESSION_LIMIT_REACHED = (133, _R)
    GROUP_DELETION_FAILED = (134, _)
    STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED = (135, _)
    CONTROLLER_ID_NOT_REGISTERED = (136, _)


ERROR_NAMES: dict[int, str] = {code.value: code.name for code in ErrorCode}
"""Kafka's error code → error name."""

RETRIABLE_ERROR_CODES = frozenset(code.value for code in ErrorCode if code.flags & Flag.RETRIABLE)
"""Codes the broker marks as retriable: the same request may succeed later."""

INVALID_METADATA_ERROR_CODES = frozenset(
    code.value for code in ErrorCode if code.flags & Flag.INVALID_METADATA
)
"""Codes that mean the client's metadata is stale: refresh it, then retry."""

LEADER_MOVED_ERROR_CODES = INVALID_METADATA_ERROR_CODES | {ErrorCode.UNKNOWN_LEADER_EPOCH}
"""Partition errors after which the partition's leader is looked up again: stale metadata,
and UNKNOWN_LEADER_EPOCH (the broker is behind the leader epoch we know; Kafka's clients also
refresh and retry)."""

COORDINATOR_ERROR_CODES = frozenset(
    {
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.NOT_COORDINATOR,
    }
)
"""Group requests answered with these go to the coordinator found again, after a backoff."""

SHARE_SESSION_ERROR_CODES = frozenset(
    {ErrorCode.SHARE_SESSION_NOT_FOUND, ErrorCode.INVALID_SHARE_SESSION_EPOCH}
)
"""The share session is gone or out of step: open a new one (its acquisitions survive)."""


def error_name(code: int) -> str:
    """Kafka's name for an error code (``UNKNOWN_ERROR_CODE_<n>`` when newer than this table)."""
    if code == 0:
        return "NONE"
    return ERROR_NAMES.get(code, f"UNKNOWN_ERROR_CODE_{code}")


class BrokerError(KafkaError):
    """An error code returned by a broker, with the broker's error name and message.

    Each code of :class:`ErrorCode` has exactly one subclass (``error_class(code)``), which
    carries the code's flags as class attributes: ``retriable`` (the same request may succeed
    later) and ``invalid_metadata`` (refresh metadata first).
    """

    code: int = -1
    retriable: bool = False
    invalid_metadata: bool = False

    def __init__(self, message: str | None = None, *, code: int | None = None, context: str = ""):
        if code is not None and code != self.code:  # a code newer than the table
            self.code = code
            self.retriable = self.invalid_metadata = False
        self.name = error_name(self.code)
        self.broker_message = message
        text = self.name
        if context:
            text = f"{context}: {text}"
        if message:
            text = f"{text}: {message}"
        super().__init__(text)


_CLASS_BY_CODE: dict[int, type[BrokerError]] = {}


def _register(code: ErrorCode):
    def decorate(cls: type[BrokerError]) -> type[BrokerError]:
        cls.code = int(code)
        cls.retriable = bool(code.flags & Flag.RETRIABLE)
        cls.invalid_metadata = bool(code.flags & Flag.INVALID_METADATA)
        _CLASS_BY_CODE[code] = cls
        return cls

    return decorate


@_register(ErrorCode.UNKNOWN_SERVER_ERROR)
class UnknownServerError(BrokerError):
    """The broker hit an unexpected error; its log says more."""


@_register(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
class UnknownTopicOrPartitionError(BrokerError):
    """The topic or partition does not exist on the broker."""


@_register(ErrorCode.NOT_LEADER_OR_FOLLOWER)
class NotLeaderOrFollowerError(BrokerError):
    """The broker is not the leader of the partition (stale metadata)."""


@_register(ErrorCode.REQUEST_TIMED_OUT)
class RequestTimedOutError(BrokerError):
    """The broker gave up on the request before it completed."""


@_register(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
class CoordinatorLoadInProgressError(BrokerError):
    """The group coordinator is still loading its state; retry."""


@_register(ErrorCode.COORDINATOR_NOT_AVAILABLE)
class CoordinatorNotAvailableError(BrokerError):
    """No group coordinator is available yet; retry."""


@_register(ErrorCode.NOT_COORDINATOR)
class NotCoordinatorError(BrokerError):
    """The broker is no longer the coordinator of the group; find it again."""


@_register(ErrorCode.INVALID_TOPIC_EXCEPTION)
class InvalidTopicError(BrokerError):
    """The topic name is invalid or refers to an internal topic."""


@_register(ErrorCode.INVALID_GROUP_ID)
class InvalidGroupIdError(BrokerError):
    """The group id is invalid (or the group is of another type)."""


@_register(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
class TopicAuthorizationFailedError(BrokerError):
    """The principal may not access the topic."""


@_register(ErrorCode.GROUP_AUTHORIZATION_FAILED)
class GroupAuthorizationFailedError(BrokerError):
    """The principal may not access the group."""


@_register(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
class ClusterAuthorizationFailedError(BrokerError):
    """The principal may not perform the cluster action."""


@_register(ErrorCode.INVALID_TIMESTAMP)
class InvalidTimestampError(BrokerError):
    """The timestamp is out of the accepted range."""


@_register(ErrorCode.UNSUPPORTED_SASL_MECHANISM)
class UnsupportedSaslMechanismError(BrokerError):
    """The broker does not enable the requested SASL mechanism."""


@_register(ErrorCode.ILLEGAL_SASL_STATE)
class IllegalSaslStateError(BrokerError):
    """A SASL request arrived in the wrong order."""


@_register(ErrorCode.UNSUPPORTED_VERSION)
class UnsupportedVersionError(BrokerError):
    """The broker does not support the request's version."""


@_register(ErrorCode.INVALID_CONFIG)
class InvalidConfigError(BrokerError):
    """A config name or value was rejected."""


@_register(ErrorCode.INVALID_REQUEST)
class InvalidRequestError(BrokerError):
    """The broker rejected the request as invalid."""


@_register(ErrorCode.POLICY_VIOLATION)
class PolicyViolationError(BrokerError):
    """A broker-side policy rejected the request."""


@_register(ErrorCode.SASL_AUTHENTICATION_FAILED)
class SaslAuthenticationFailedError(BrokerError, AuthenticationError):
    """The broker rejected the SASL credentials."""


@_register(ErrorCode.NON_EMPTY_GROUP)
class NonEmptyGroupError(BrokerError):
    """The group still has members, so the operation is refused."""


@_register(ErrorCode.GROUP_ID_NOT_FOUND)
class GroupIdNotFoundError(BrokerError):
    """The group does not exist."""


@_register(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC)
class GroupSubscribedToTopicError(BrokerError):
    """The group is still subscribed to the topic."""


@_register(ErrorCode.RESOURCE_NOT_FOUND)
class ResourceNotFoundError(BrokerError):
    """The config resource does not exist."""


@_register(ErrorCode.UNKNOWN_TOPIC_ID)
class UnknownTopicIdError(BrokerError):
    """The topic id is unknown to the broker."""


@_register(ErrorCode.INVALID_RECORD_STATE)
class InvalidRecordStateError(BrokerError):
    """The record is not in a state that allows the operation."""


@_register(ErrorCode.GROUP_DELETION_FAILED)
class GroupDeletionFailedError(BrokerError):
    """The coordinator could not delete the group."""


def _class_name(code: ErrorCode) -> str:
    words = code.name.removesuffix("_EXCEPTION").removesuffix("_ERROR").split("_")
    return "".join(word.capitalize() for word in words) + "Error"


for _code in ErrorCode:  # the codes nothing here catches by class get one all the same
    if _code not in _CLASS_BY_CODE:
        _register(_code)(
            type(_class_name(_code), (BrokerError,), {"__doc__": f"Kafka's {_code.name}."})
        )
del _code


def error_class(code: int) -> type[BrokerError]:
    """The exception class of a broker error code (``BrokerError`` for codes newer than the
    table)."""
    return _CLASS_BY_CODE.get(code, BrokerError)


def error_for_code(code: int, message: str | None = None, context: str = "") -> BrokerError:
    """The typed exception for a broker error code."""
    return error_class(code)(message, code=code, context=context)


def raise_for_error_code(code: int, message: str | None = None, context: str = "") -> None:
    """Raise the typed exception for ``code`` unless it is ``0`` (NONE)."""
    if code != 0:
        raise error_for_code(code, message, context)
