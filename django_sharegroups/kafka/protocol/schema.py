"""Kafka message layouts as data: types, fields with version ranges, messages and APIs.

This mirrors how Kafka describes its own protocol (the JSON files under
``clients/src/main/resources/common/message/``): a message is a list of fields, each present
in a range of versions, possibly nullable or tagged in some of them, possibly an array or a
nested struct. One generic codec (:mod:`.codec`) reads and writes any such description, so
supporting a new RPC means writing its definition in :mod:`.messages`, not new byte handling.

Field names are the schema names in snake_case (``ThrottleTimeMs`` → ``throttle_time_ms``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .versions import NO_VERSIONS, VersionRange


@dataclass(frozen=True)
class Primitive:
    """A scalar wire type (``int32``, ``string``, ``uuid``, ...)."""

    name: str

    def __repr__(self) -> str:
        return self.name


INT8 = Primitive("int8")
INT16 = Primitive("int16")
UINT16 = Primitive("uint16")
INT32 = Primitive("int32")
UINT32 = Primitive("uint32")
INT64 = Primitive("int64")
FLOAT64 = Primitive("float64")
BOOL = Primitive("bool")
UUID = Primitive("uuid")
STRING = Primitive("string")
BYTES = Primitive("bytes")
#: Kafka's ``records`` type: a byte string holding record batches. The codec reads it as raw
#: bytes (like ``bytes``); decoding the batches inside is the consumer's job, not the codec's.
RECORDS = Primitive("records")

ZERO_UUID = uuid.UUID(int=0)

_PRIMITIVE_DEFAULTS: dict[Primitive, Any] = {
    INT8: 0,
    INT16: 0,
    UINT16: 0,
    INT32: 0,
    UINT32: 0,
    INT64: 0,
    FLOAT64: 0.0,
    BOOL: False,
    UUID: ZERO_UUID,
    STRING: "",
    BYTES: b"",
    RECORDS: b"",
}


@dataclass(frozen=True)
class StructType:
    """A named group of fields; every struct in a flexible version carries its own tagged fields."""

    name: str
    fields: tuple[Field, ...]

    def __init__(self, name: str, fields: Iterable[Field]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fields", tuple(fields))
        names = [field.name for field in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"{name}: duplicate field names in {names}")

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.name} has no field {name!r}")


@dataclass(frozen=True)
class ArrayType:
    """A list of primitives or structs."""

    element: Primitive | StructType


FieldType = Primitive | ArrayType | StructType

_NOT_GIVEN: Any = object()


@dataclass(frozen=True)
class Field:
    """One field of a struct, with the versions in which it exists and how it is encoded.

    ``flexible_versions`` overrides the message's flexible versions for this field only;
    Kafka uses it for the request header's client id, which is never a compact string.
    """

    name: str
    type: FieldType
    versions: VersionRange
    nullable_versions: VersionRange
    tag: int | None
    tagged_versions: VersionRange
    ignorable: bool
    flexible_versions: VersionRange | None
    explicit_default: Any

    def __init__(
        self,
        name: str,
        type: FieldType,
        versions: str | VersionRange,
        *,
        nullable: str | VersionRange = NO_VERSIONS,
        tag: int | None = None,
        tagged: str | VersionRange | None = None,
        default: Any = _NOT_GIVEN,
        ignorable: bool = False,
        flexible: str | VersionRange | None = None,
    ) -> None:
        set_attribute = object.__setattr__
        set_attribute(self, "name", name)
        set_attribute(self, "type", type)
        set_attribute(self, "versions", VersionRange.parse(versions))
        set_attribute(self, "nullable_versions", VersionRange.parse(nullable))
        set_attribute(self, "tag", tag)
        if tag is not None and tagged is None:
            raise ValueError(f"{name}: a tagged field needs its tagged versions")
        tagged_range = VersionRange.parse(tagged) if tagged is not None else NO_VERSIONS
        set_attribute(self, "tagged_versions", tagged_range)
        set_attribute(self, "ignorable", ignorable)
        set_attribute(
            self, "flexible_versions", None if flexible is None else VersionRange.parse(flexible)
        )
        set_attribute(self, "explicit_default", default)

    def is_tagged_in(self, version: int) -> bool:
        return self.tag is not None and version in self.tagged_versions

    def is_nullable_in(self, version: int) -> bool:
        return version in self.nullable_versions

    def default(self) -> Any:
        """The value a reader sees when the field is absent from a version (or not sent)."""
        if self.explicit_default is not _NOT_GIVEN:
            return self.explicit_default
        if isinstance(self.type, ArrayType):
            return []
        if isinstance(self.type, StructType):
            return None
        return _PRIMITIVE_DEFAULTS[self.type]


@dataclass(frozen=True)
class MessageSchema:
    """The body of one request, response or header, across all its versions."""

    name: str
    valid_versions: VersionRange
    flexible_versions: VersionRange
    struct: StructType

    def __init__(
        self,
        name: str,
        *,
        valid: str | VersionRange,
        flexible: str | VersionRange,
        fields: Iterable[Field],
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "valid_versions", VersionRange.parse(valid))
        object.__setattr__(self, "flexible_versions", VersionRange.parse(flexible))
        object.__setattr__(self, "struct", StructType(name, fields))

    def is_flexible(self, version: int) -> bool:
        return version in self.flexible_versions


@dataclass(frozen=True)
class Api:
    """A Kafka RPC: its api key and the schemas of its request and response bodies."""

    key: int
    name: str
    request: MessageSchema
    response: MessageSchema

    @property
    def versions(self) -> VersionRange:
        """The versions this client can encode and decode."""
        return self.request.valid_versions

    def request_header_version(self, version: int) -> int:
        return 2 if self.request.is_flexible(version) else 1

    def response_header_version(self, version: int) -> int:
        # ApiVersions answers with header v0 whatever the version, so that a client can read
        # the answer before it knows which versions the broker speaks.
        if self.key == API_VERSIONS_KEY:
            return 0
        return 1 if self.response.is_flexible(version) else 0


API_VERSIONS_KEY = 18


def structs(name: str, *fields: Field) -> ArrayType:
    """Shorthand for an array of a struct type declared inline, as the schemas do."""
    return ArrayType(StructType(name, fields))


def struct(name: str, *fields: Field) -> StructType:
    """Shorthand for a nested (non-array) struct type declared inline."""
    return StructType(name, fields)


def array(element: Primitive) -> ArrayType:
    """Shorthand for an array of primitives (``[]int32``, ``[]string``)."""
    return ArrayType(element)
