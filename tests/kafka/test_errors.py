"""Broker error codes become typed exceptions carrying the broker's name and message."""

from __future__ import annotations

import pytest

from django_sharegroups.exceptions import ShareGroupsError
from django_sharegroups.kafka.errors import (
    BrokerError,
    GroupIdNotFoundError,
    KafkaError,
    NonEmptyGroupError,
    NotCoordinatorError,
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


def test_untyped_codes_still_carry_their_name() -> None:
    error = error_for_code(47)
    assert type(error) is BrokerError
    assert error.name == "INVALID_PRODUCER_EPOCH"


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
