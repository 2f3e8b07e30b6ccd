"""Broker error codes become typed exceptions carrying the broker's name and message."""

from __future__ import annotations

import pytest

from django_sharegroups.exceptions import ShareGroupsError
from django_sharegroups.kafka.errors import (
    COORDINATOR_ERROR_CODES,
    ERROR_NAMES,
    LEADER_MOVED_ERROR_CODES,
    RETRIABLE_ERROR_CODES,
    SHARE_SESSION_ERROR_CODES,
    BrokerError,
    ErrorCode,
    GroupIdNotFoundError,
    KafkaError,
    NonEmptyGroupError,
    NotCoordinatorError,
    error_class,
    error_for_code,
    error_name,
    raise_for_error_code,
)


def test_typed_error_keeps_name_message_and_context() -> None:
    error = error_for_code(68, "The group is not empty.", context="resetting offsets of 'g'")
    assert isinstance(error, NonEmptyGroupError)
    assert isinstance(error, KafkaError) and isinstance(error, ShareGroupsError)
    assert (error.code, error.name) == (68, "NON_EMPTY_GROUP")
    assert error.broker_message == "The group is not empty."
    assert str(error) == "resetting offsets of 'g': NON_EMPTY_GROUP: The group is not empty."
    assert not error.retriable


def test_codes_nothing_catches_by_class_still_get_one_with_their_name() -> None:
    error = error_for_code(47)
    assert type(error).__name__ == "InvalidProducerEpochError"
    assert isinstance(error, BrokerError) and type(error) is error_class(47)
    assert error.name == "INVALID_PRODUCER_EPOCH"


def test_each_code_maps_to_one_class_carrying_its_name_and_flags() -> None:
    classes = {code: error_class(code) for code in ErrorCode}
    assert len(set(classes.values())) == len(ErrorCode) == len(ERROR_NAMES) == 137
    for code, cls in classes.items():
        assert issubclass(cls, BrokerError) and cls is not BrokerError
        error = error_for_code(code, "broker says")
        assert type(error) is cls
        assert (error.code, error.name) == (code, code.name)
        assert error.retriable == cls.retriable == (code in RETRIABLE_ERROR_CODES)
        assert error.invalid_metadata == cls.invalid_metadata
        assert error.invalid_metadata <= error.retriable  # Kafka: stale metadata is retriable


@pytest.mark.parametrize(
    ("code", "retriable", "invalid_metadata"),
    [
        (ErrorCode.NOT_LEADER_OR_FOLLOWER, True, True),
        (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, True, True),
        (ErrorCode.FENCED_LEADER_EPOCH, True, True),
        (ErrorCode.UNKNOWN_TOPIC_ID, True, True),
        (ErrorCode.UNKNOWN_LEADER_EPOCH, True, False),
        (ErrorCode.NOT_COORDINATOR, True, False),
        (ErrorCode.SHARE_SESSION_NOT_FOUND, True, False),
        (ErrorCode.INVALID_RECORD_STATE, False, False),
        (ErrorCode.GROUP_ID_NOT_FOUND, False, False),
        (ErrorCode.UNKNOWN_SERVER_ERROR, False, False),
    ],
)
def test_flags_follow_kafka(code, retriable, invalid_metadata) -> None:
    cls = error_class(code)
    assert (cls.retriable, cls.invalid_metadata) == (retriable, invalid_metadata)


def test_leader_moved_is_one_set_for_the_admin_and_the_native_consumer() -> None:
    leader_codes = {ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER}
    leader_codes |= {ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH}
    leader_codes |= {ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID}
    assert leader_codes <= LEADER_MOVED_ERROR_CODES
    assert all(error_class(code).retriable for code in LEADER_MOVED_ERROR_CODES)
    assert COORDINATOR_ERROR_CODES == {14, 15, 16}
    assert SHARE_SESSION_ERROR_CODES == {122, 123}


def test_unknown_future_codes_are_named_by_number() -> None:
    assert error_name(999) == "UNKNOWN_ERROR_CODE_999"
    assert error_for_code(999).name == "UNKNOWN_ERROR_CODE_999"


def test_retriable_flag() -> None:
    assert error_for_code(16).retriable
    assert isinstance(error_for_code(16), NotCoordinatorError)


def test_raise_for_error_code() -> None:
    raise_for_error_code(0)
    with pytest.raises(GroupIdNotFoundError, match="GROUP_ID_NOT_FOUND: Group g not found"):
        raise_for_error_code(69, "Group g not found.")


def test_error_classes_can_be_raised_without_a_code() -> None:
    error = GroupIdNotFoundError("gone")
    assert (error.code, error.name) == (69, "GROUP_ID_NOT_FOUND")
