"""The one generic encoder/decoder for every message described in :mod:`.schema`.

Encoding takes a :class:`Struct` or a plain mapping of snake_case field names; fields left out
get their schema default. A field set to a non-default value in a version that lacks it
raises :class:`ProtocolError` unless the schema marks it ignorable, so a request never
silently loses meaning (e.g. the ``share`` type filter on a ListGroups version without it).

Decoding returns :class:`Struct` values and is strict: truncated input, impossible lengths,
nulls where the schema forbids them and trailing bytes all raise :class:`ProtocolError`.
Tagged fields the schema does not know are kept (``unknown_tagged_fields``) and written back,
so decode → encode reproduces the broker's bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from ..errors import ProtocolError
from .primitives import Reader, Writer
from .schema import (
    BOOL,
    BYTES,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    RECORDS,
    STRING,
    UINT16,
    UINT32,
    UUID,
    ArrayType,
    Field,
    MessageSchema,
    Primitive,
    StructType,
)

UNKNOWN_TAGGED_FIELDS = "unknown_tagged_fields"


class Struct(SimpleNamespace):
    """A decoded (or to-be-encoded) struct: fields as attributes, compared by value."""

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)


def encode(schema: MessageSchema, version: int, value: Mapping[str, Any] | Struct) -> bytes:
    """Encode a message body (or header) at ``version``."""
    _check_version(schema, version)
    writer = Writer()
    _write_struct(writer, schema.struct, version, schema.is_flexible(version), value, schema.name)
    return writer.getvalue()


def decode(schema: MessageSchema, version: int, data: bytes | bytearray | memoryview) -> Struct:
    """Decode a whole message body; every byte must belong to it."""
    reader = Reader(data)
    value = decode_from(reader, schema, version)
    if reader.remaining:
        raise ProtocolError(
            f"{schema.name} v{version}: {reader.remaining} unexpected trailing bytes"
        )
    return value


def decode_from(reader: Reader, schema: MessageSchema, version: int) -> Struct:
    """Decode one message from the reader's position (used for headers before bodies)."""
    _check_version(schema, version)
    return _read_struct(reader, schema.struct, version, schema.is_flexible(version), schema.name)


def default_struct(struct_type: StructType, version: int) -> Struct:
    """A struct with every field at its default, as a reader sees an omitted struct."""
    return Struct(**{field.name: _default(field, version) for field in struct_type.fields})


def _check_version(schema: MessageSchema, version: int) -> None:
    if version not in schema.valid_versions:
        raise ProtocolError(
            f"{schema.name} has no version {version} (valid: {schema.valid_versions})"
        )


def _default(field: Field, version: int) -> Any:
    if isinstance(field.type, StructType) and not field.is_nullable_in(version):
        return default_struct(field.type, version)
    return field.default()


# -- encoding -----------------------------------------------------------------------------


def _field_values(value: Mapping[str, Any] | Struct, struct_type: StructType, path: str) -> dict:
    if isinstance(value, Struct):
        values = dict(vars(value))
    elif isinstance(value, Mapping):
        values = dict(value)
    else:
        raise ProtocolError(f"{path}: expected a mapping or Struct, got {type(value).__name__}")
    known = {field.name for field in struct_type.fields} | {UNKNOWN_TAGGED_FIELDS}
    unknown = set(values) - known
    if unknown:
        raise ProtocolError(f"{path}: unknown field(s) {sorted(unknown)}")
    return values


def _write_struct(
    writer: Writer,
    struct_type: StructType,
    version: int,
    flexible: bool,
    value: Mapping[str, Any] | Struct,
    path: str,
) -> None:
    values = _field_values(value, struct_type, path)
    tagged: dict[int, bytes] = {}
    for field in struct_type.fields:
        field_path = f"{path}.{field.name}"
        given = field.name in values
        field_value = values[field.name] if given else _default(field, version)
        if version not in field.versions:
            if given and not _is_default(field, version, field_value) and not field.ignorable:
                raise ProtocolError(f"{field_path} is not supported in version {version}")
            continue
        if field.is_tagged_in(version):
            if _is_default(field, version, field_value):
                continue
            tagged_writer = Writer()
            _write_value(tagged_writer, field, version, flexible, field_value, field_path)
            tagged[field.tag] = tagged_writer.getvalue()  # type: ignore[index]  # tagged: has one
            continue
        _write_value(writer, field, version, flexible, field_value, field_path)
    if flexible:
        unknown = values.get(UNKNOWN_TAGGED_FIELDS) or {}
        overlap = set(unknown) & set(tagged)
        if overlap:
            raise ProtocolError(f"{path}: tags {sorted(overlap)} given twice")
        tagged.update(unknown)
        writer.unsigned_varint(len(tagged))
        for tag in sorted(tagged):
            data = tagged[tag]
            writer.unsigned_varint(tag)
            writer.unsigned_varint(len(data))
            writer.raw(data)


def _is_default(field: Field, version: int, value: Any) -> bool:
    default = _default(field, version)
    if isinstance(default, Struct) and isinstance(value, Mapping):
        return Struct(**value) == default
    return value == default


def _compact(field: Field, version: int, flexible: bool) -> bool:
    if field.flexible_versions is not None:
        return version in field.flexible_versions
    return flexible


def _write_value(
    writer: Writer, field: Field, version: int, flexible: bool, value: Any, path: str
) -> None:
    compact = _compact(field, version, flexible)
    nullable = field.is_nullable_in(version)
    field_type = field.type
    if value is None and not nullable:
        raise ProtocolError(f"{path} is not nullable in version {version}")
    if isinstance(field_type, ArrayType):
        if value is None:
            writer.length(-1, compact)
            return
        if not isinstance(value, list | tuple):
            raise ProtocolError(f"{path}: expected a list, got {type(value).__name__}")
        writer.length(len(value), compact)
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if isinstance(field_type.element, StructType):
                _write_struct(writer, field_type.element, version, flexible, item, item_path)
            else:
                _write_primitive(writer, field_type.element, item, compact, False, item_path)
        return
    if isinstance(field_type, StructType):
        if nullable:
            writer.int8(-1 if value is None else 1)
            if value is None:
                return
        _write_struct(writer, field_type, version, flexible, value, path)
        return
    _write_primitive(writer, field_type, value, compact, nullable, path)


def _write_primitive(
    writer: Writer, kind: Primitive, value: Any, compact: bool, nullable: bool, path: str
) -> None:
    if kind is STRING:
        if value is None:
            writer.string_length(-1, compact)
            return
        if not isinstance(value, str):
            raise ProtocolError(f"{path}: expected str, got {type(value).__name__}")
        data = value.encode("utf-8")
        if not compact and len(data) > 0x7FFF:
            raise ProtocolError(f"{path}: string longer than 32767 bytes")
        writer.string_length(len(data), compact)
        writer.raw(data)
    elif kind is BYTES or kind is RECORDS:
        if value is None:
            writer.length(-1, compact)
            return
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ProtocolError(f"{path}: expected bytes, got {type(value).__name__}")
        writer.length(len(value), compact)
        writer.raw(value)
    elif kind is UUID:
        if not isinstance(value, uuid.UUID):
            raise ProtocolError(f"{path}: expected uuid.UUID, got {type(value).__name__}")
        writer.uuid(value)
    elif kind is BOOL:
        if not isinstance(value, bool):
            raise ProtocolError(f"{path}: expected bool, got {type(value).__name__}")
        writer.boolean(value)
    elif kind is FLOAT64:
        writer.float64(value)
    else:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError(f"{path}: expected int, got {type(value).__name__}")
        getattr(writer, kind.name)(value)


# -- decoding -----------------------------------------------------------------------------


def _read_struct(
    reader: Reader, struct_type: StructType, version: int, flexible: bool, path: str
) -> Struct:
    values: dict[str, Any] = {}
    tagged_fields: dict[int, Field] = {}
    for field in struct_type.fields:
        if version not in field.versions:
            values[field.name] = _default(field, version)
        elif field.is_tagged_in(version):
            values[field.name] = _default(field, version)
            tagged_fields[field.tag] = field  # type: ignore[index]  # tagged: has one
        else:
            values[field.name] = _read_value(
                reader, field, version, flexible, f"{path}.{field.name}"
            )
    if flexible:
        unknown: dict[int, bytes] = {}
        count = reader.unsigned_varint()
        if count > reader.remaining:
            raise ProtocolError(f"{path}: {count} tagged fields but {reader.remaining} bytes left")
        previous_tag = -1
        for _ in range(count):
            tag = reader.unsigned_varint()
            if tag <= previous_tag:
                raise ProtocolError(f"{path}: tagged fields out of order (tag {tag})")
            previous_tag = tag
            size = reader.unsigned_varint()
            data = reader.take(size)
            known = tagged_fields.get(tag)
            if known is None:
                unknown[tag] = bytes(data)
                continue
            field_reader = Reader(data)
            field_path = f"{path}.{known.name}"
            values[known.name] = _read_value(field_reader, known, version, flexible, field_path)
            if field_reader.remaining:
                raise ProtocolError(f"{field_path}: {field_reader.remaining} bytes left in tag")
        if unknown:
            values[UNKNOWN_TAGGED_FIELDS] = unknown
    return Struct(**values)


def _read_value(reader: Reader, field: Field, version: int, flexible: bool, path: str) -> Any:
    compact = _compact(field, version, flexible)
    nullable = field.is_nullable_in(version)
    field_type = field.type
    if isinstance(field_type, ArrayType):
        size = reader.length(compact)
        if size < 0:
            return _null(nullable, path, size)
        if size > reader.remaining:
            raise ProtocolError(f"{path}: array of {size} items but {reader.remaining} bytes left")
        element = field_type.element
        if isinstance(element, StructType):
            return [
                _read_struct(reader, element, version, flexible, f"{path}[{index}]")
                for index in range(size)
            ]
        return [_read_primitive(reader, element, compact, False, path) for _ in range(size)]
    if isinstance(field_type, StructType):
        if nullable:
            marker = reader.int8()
            if marker < 0:
                return None
        return _read_struct(reader, field_type, version, flexible, path)
    return _read_primitive(reader, field_type, compact, nullable, path)


def _null(nullable: bool, path: str, size: int) -> None:
    if size != -1:
        raise ProtocolError(f"{path}: invalid length {size}")
    if not nullable:
        raise ProtocolError(f"{path}: null where the schema does not allow it")
    return None


_FIXED_READERS = {
    INT8: Reader.int8,
    INT16: Reader.int16,
    UINT16: Reader.uint16,
    INT32: Reader.int32,
    UINT32: Reader.uint32,
    INT64: Reader.int64,
    FLOAT64: Reader.float64,
    BOOL: Reader.boolean,
    UUID: Reader.uuid,
}


def _read_primitive(
    reader: Reader, kind: Primitive, compact: bool, nullable: bool, path: str
) -> Any:
    if kind is STRING:
        size = reader.string_length(compact)
        if size < 0:
            return _null(nullable, path, size)
        return reader.text(size)
    if kind is BYTES or kind is RECORDS:
        size = reader.length(compact)
        if size < 0:
            return _null(nullable, path, size)
        if kind is RECORDS:  # record batches (large): a read-only view of the frame, no copy
            return reader.take(size).toreadonly()
        return bytes(reader.take(size))
    return _FIXED_READERS[kind](reader)
