"""The generic codec: every message definition round-trips at every version, and malformed
input is refused with ProtocolError."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from django_sharegroups.kafka.errors import ProtocolError
from django_sharegroups.kafka.protocol import APIS, MessageSchema, Struct, decode, encode
from django_sharegroups.kafka.protocol.codec import UNKNOWN_TAGGED_FIELDS
from django_sharegroups.kafka.protocol.messages import (
    API_VERSIONS,
    LIST_GROUPS,
    REQUEST_HEADER,
    RESPONSE_HEADER,
    SHARE_GROUP_DESCRIBE,
)
from django_sharegroups.kafka.protocol.primitives import Reader, Writer
from django_sharegroups.kafka.protocol.schema import (
    BOOL,
    BYTES,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    UINT16,
    UINT32,
    UUID,
    ArrayType,
    Field,
    Primitive,
    StructType,
    array,
    struct,
    structs,
)
from django_sharegroups.kafka.protocol.versions import VersionRange

SAMPLE_PRIMITIVES: dict[Primitive, Any] = {
    INT8: -7,
    INT16: -300,
    UINT16: 65000,
    INT32: 123_456,
    UINT32: 4_000_000_000,
    INT64: 2**40 + 5,
    FLOAT64: 1.5,
    BOOL: True,
    UUID: uuid.UUID("0b9e2c3f-6a21-4b49-9a52-63f4bd7a2c10"),
    STRING: "share-gruppe-ü",
    BYTES: b"\x00\x01\xff",
}


def sample(struct_type: StructType, version: int, nulls: bool) -> dict[str, Any]:
    """A value for every field present in ``version``; nullable ones null when ``nulls``."""
    values = {}
    for field in struct_type.fields:
        if version not in field.versions:
            continue
        if nulls and field.is_nullable_in(version):
            values[field.name] = None
        elif isinstance(field.type, ArrayType):
            element = field.type.element
            if isinstance(element, StructType):
                values[field.name] = [sample(element, version, nulls) for _ in range(2)]
            else:
                values[field.name] = [SAMPLE_PRIMITIVES[element]] * 2
        elif isinstance(field.type, StructType):
            values[field.name] = sample(field.type, version, nulls)
        else:
            values[field.name] = SAMPLE_PRIMITIVES[field.type]
    return values


def assert_contains(decoded: Any, expected: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(decoded, Struct), path
        for name, value in expected.items():
            assert_contains(getattr(decoded, name), value, f"{path}.{name}")
    elif isinstance(expected, list):
        assert len(decoded) == len(expected), path
        for index, (item, wanted) in enumerate(zip(decoded, expected, strict=True)):
            assert_contains(item, wanted, f"{path}[{index}]")
    else:
        assert decoded == expected, path


def _versions(schema: MessageSchema) -> range:
    valid = schema.valid_versions
    return range(valid.lowest, valid.highest + 1)


SCHEMAS = [REQUEST_HEADER, RESPONSE_HEADER] + [
    schema for api in APIS for schema in (api.request, api.response)
]
CASES = [
    (schema, version, nulls)
    for schema in SCHEMAS
    for version in _versions(schema)
    for nulls in (False, True)
]


@pytest.mark.parametrize(
    ("schema", "version", "nulls"),
    CASES,
    ids=[f"{s.name}-v{v}{'-nulls' if n else ''}" for s, v, n in CASES],
)
def test_every_message_round_trips(schema: MessageSchema, version: int, nulls: bool) -> None:
    value = sample(schema.struct, version, nulls)
    encoded = encode(schema, version, value)
    decoded = decode(schema, version, encoded)
    assert_contains(decoded, value)
    assert encode(schema, version, decoded) == encoded


def test_fields_missing_from_a_version_decode_to_their_defaults() -> None:
    decoded = decode(LIST_GROUPS.response, 0, encode(LIST_GROUPS.response, 0, {"groups": []}))
    assert decoded.throttle_time_ms == 0
    described = SHARE_GROUP_DESCRIBE.response
    body = {"groups": [{"group_id": "g", "members": [{"member_id": "m"}]}]}
    group = decode(described, 1, encode(described, 1, body)).groups[0]
    assert group.error_message is None
    assert group.authorized_operations == -(2**31)
    assert group.members[0].assignment == Struct(topic_partitions=[])


def test_known_bytes_of_a_flexible_request() -> None:
    # ListGroups v5: compact array of 0 states, compact array of 1 type "share", no tags.
    encoded = encode(LIST_GROUPS.request, 5, {"types_filter": ["share"]})
    assert encoded == bytes([0x01, 0x02, 0x06]) + b"share" + b"\x00"
    # The same request in v2 (not flexible) has no fields at all.
    assert encode(LIST_GROUPS.request, 2, {}) == b""


def test_request_header_client_id_is_never_compact() -> None:
    header = {
        "request_api_key": 16,
        "request_api_version": 5,
        "correlation_id": 9,
        "client_id": "ab",
    }
    assert encode(REQUEST_HEADER, 2, header) == bytes.fromhex("0010 0005 00000009 0002 6162 00")
    assert encode(REQUEST_HEADER, 1, {**header, "client_id": None}).endswith(b"\xff\xff")


# -- encoding refuses what it cannot express -----------------------------------------------


def test_non_ignorable_field_unsupported_by_the_version_is_refused() -> None:
    with pytest.raises(ProtocolError, match="types_filter is not supported in version 4"):
        encode(LIST_GROUPS.request, 4, {"types_filter": ["share"]})


def test_ignorable_field_is_dropped_in_versions_without_it() -> None:
    assert encode(API_VERSIONS.request, 2, {"client_software_name": "x"}) == b""


def test_unknown_field_names_are_refused() -> None:
    with pytest.raises(ProtocolError, match="unknown field"):
        encode(LIST_GROUPS.request, 5, {"type_filter": ["share"]})


@pytest.mark.parametrize(
    "body",
    [
        {"group_ids": "not-a-list"},
        {"group_ids": [1]},
        {"group_ids": None},
        {"group_ids": [], "include_authorized_operations": "yes"},
    ],
)
def test_values_of_the_wrong_type_are_refused(body: dict) -> None:
    with pytest.raises(ProtocolError):
        encode(SHARE_GROUP_DESCRIBE.request, 1, body)


def test_out_of_range_integers_are_refused() -> None:
    with pytest.raises(ProtocolError, match="int32"):
        encode(RESPONSE_HEADER, 0, {"correlation_id": 2**31})


def test_versions_outside_the_schema_are_refused() -> None:
    with pytest.raises(ProtocolError, match="no version 0"):
        encode(SHARE_GROUP_DESCRIBE.request, 0, {})


# -- decoding refuses malformed input -------------------------------------------------------


def _describe_request(group_ids_bytes: bytes) -> bytes:
    return group_ids_bytes + b"\x00" + b"\x00"  # include_authorized_operations, no tags


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_describe_request(b"\x00"), "null where the schema does not allow it"),
        (_describe_request(b"\xff\xff\xff\xff\x0f"), "array of"),
        (_describe_request(b"\x80\x80\x80\x80\x80\x01"), "varint longer"),
        (_describe_request(b"\x02\x03\xff\xfe"), "UTF-8"),
        (_describe_request(b"\x02\x00"), "null where"),
        (_describe_request(b"\x01") + b"\x00", "trailing"),
        (b"\x01\x00\x01\x05\x05", "truncated"),
    ],
)
def test_malformed_bytes_raise_protocol_error(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode(SHARE_GROUP_DESCRIBE.request, 1, data)


def test_non_compact_negative_lengths_other_than_null_are_refused() -> None:
    # ListGroups v2 response: error code, then an int32 array length of -2.
    data = b"\x00\x00\x00\x00" + b"\x00\x00" + (-2).to_bytes(4, "big", signed=True)
    with pytest.raises(ProtocolError, match="invalid length -2"):
        decode(LIST_GROUPS.response, 2, data)


def test_unknown_tagged_fields_are_kept_and_written_back() -> None:
    encoded = encode(
        LIST_GROUPS.request, 5, {"types_filter": [], UNKNOWN_TAGGED_FIELDS: {7: b"\x01\x02"}}
    )
    decoded = decode(LIST_GROUPS.request, 5, encoded)
    assert decoded.unknown_tagged_fields == {7: b"\x01\x02"}
    assert encode(LIST_GROUPS.request, 5, decoded) == encoded


def test_tagged_fields_out_of_order_are_refused() -> None:
    body = b"\x01\x01" + b"\x02" + b"\x05\x01\x00" + b"\x03\x01\x00"
    with pytest.raises(ProtocolError, match="out of order"):
        decode(LIST_GROUPS.request, 5, body)


def test_tagged_field_with_extra_bytes_is_refused() -> None:
    # ApiVersions v3 response; tag 1 (FinalizedFeaturesEpoch, int64) given 9 bytes.
    body = b"\x00\x00" + b"\x01" + b"\x00\x00\x00\x00" + b"\x01" + b"\x01\x09" + bytes(9)
    with pytest.raises(ProtocolError, match="bytes left in tag"):
        decode(API_VERSIONS.response, 3, body)


# -- features of the codec no current message uses -------------------------------------------

SYNTHETIC = MessageSchema(
    "Synthetic",
    valid="0-2",
    flexible="1+",
    fields=[
        Field("counter", UINT16, "0+"),
        Field("ratio", FLOAT64, "0+"),
        Field("maybe", struct("Maybe", Field("inner", INT32, "0+")), "0+", nullable="0+"),
        Field("blob", BYTES, "0+", nullable="2+"),
        Field("ids", array(UUID), "1+"),
        Field("nested", structs("Nested", Field("name", STRING, "0+")), "2+", tag=4, tagged="2+"),
        Field("late", INT64, "2+", tag=1, tagged="2+", default=-1),
    ],
)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_synthetic_schema_round_trips(version: int) -> None:
    for maybe in (None, {"inner": 5}):
        value = sample(SYNTHETIC.struct, version, nulls=False) | {"maybe": maybe}
        decoded = decode(SYNTHETIC, version, encode(SYNTHETIC, version, value))
        assert_contains(decoded, value)


def test_tagged_fields_at_their_default_are_not_written() -> None:
    plain = encode(SYNTHETIC, 2, {"blob": b""})
    with_tag = encode(SYNTHETIC, 2, {"blob": b"", "late": 3})
    assert len(with_tag) > len(plain)
    assert decode(SYNTHETIC, 2, plain).late == -1
    assert decode(SYNTHETIC, 2, with_tag).late == 3


# -- primitives and versions ---------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1])
def test_unsigned_varint_round_trip(value: int) -> None:
    writer = Writer()
    writer.unsigned_varint(value)
    assert Reader(writer.getvalue()).unsigned_varint() == value


@pytest.mark.parametrize("value", [0, -1, 1, -64, 64, -(2**31), 2**31 - 1])
def test_zigzag_varint_round_trip(value: int) -> None:
    writer = Writer()
    writer.varint(value)
    assert Reader(writer.getvalue()).varint() == value


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [("3+", [3, 99], [2]), ("0-4", [0, 4], [5, -1]), ("1", [1], [0, 2]), ("none", [], [0, 1])],
)
def test_version_ranges(text: str, inside: list[int], outside: list[int]) -> None:
    versions = VersionRange.parse(text)
    assert all(version in versions for version in inside)
    assert not any(version in versions for version in outside)
    assert str(versions) == text


def test_field_needs_tagged_versions_with_a_tag() -> None:
    with pytest.raises(ValueError):
        Field("x", INT8, "0+", tag=0)


def test_struct_refuses_duplicate_field_names() -> None:
    with pytest.raises(ValueError):
        StructType("Twice", [Field("a", INT16, "0+"), Field("a", INT32, "0+")])
