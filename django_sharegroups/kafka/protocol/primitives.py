"""Reading and writing Kafka's primitive wire types (big-endian ints, varints, strings, UUIDs).

The reader checks every length against the bytes left, so a truncated or corrupted frame
raises :class:`ProtocolError` instead of allocating huge buffers or reading past the end.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from ..errors import ProtocolError

_INT8 = struct.Struct(">b")
_INT16 = struct.Struct(">h")
_UINT16 = struct.Struct(">H")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT64 = struct.Struct(">q")
_FLOAT64 = struct.Struct(">d")

_MAX_UNSIGNED_VARINT_BYTES = 5
_MAX_UNSIGNED_VARLONG_BYTES = 10


class Reader:
    """A cursor over one received frame."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = memoryview(data)
        self.position = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self.position

    def take(self, size: int) -> memoryview:
        if size < 0:
            raise ProtocolError(f"negative length {size} at byte {self.position}")
        if size > self.remaining:
            raise ProtocolError(
                f"truncated: need {size} bytes at byte {self.position}, {self.remaining} left"
            )
        chunk = self._data[self.position : self.position + size]
        self.position += size
        return chunk

    def _unpack(self, layout: struct.Struct) -> Any:
        return layout.unpack(self.take(layout.size))[0]

    def int8(self) -> int:
        return self._unpack(_INT8)

    def int16(self) -> int:
        return self._unpack(_INT16)

    def uint16(self) -> int:
        return self._unpack(_UINT16)

    def int32(self) -> int:
        return self._unpack(_INT32)

    def uint32(self) -> int:
        return self._unpack(_UINT32)

    def int64(self) -> int:
        return self._unpack(_INT64)

    def float64(self) -> float:
        return self._unpack(_FLOAT64)

    def boolean(self) -> bool:
        return self.int8() != 0

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self.take(16)))

    def unsigned_varint(self, max_bytes: int = _MAX_UNSIGNED_VARINT_BYTES) -> int:
        value = 0
        for index in range(max_bytes):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                return value
        raise ProtocolError(f"varint longer than {max_bytes} bytes at byte {self.position}")

    def varint(self) -> int:
        raw = self.unsigned_varint()
        return (raw >> 1) ^ -(raw & 1)

    def varlong(self) -> int:
        raw = self.unsigned_varint(_MAX_UNSIGNED_VARLONG_BYTES)
        return (raw >> 1) ^ -(raw & 1)

    def length(self, compact: bool) -> int:
        """A string/bytes/array length; ``-1`` means null."""
        if compact:
            return self.unsigned_varint() - 1
        return self.int32()

    def string_length(self, compact: bool) -> int:
        if compact:
            return self.unsigned_varint() - 1
        return self.int16()

    def text(self, size: int) -> str:
        try:
            return str(self.take(size), "utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError(f"string is not valid UTF-8: {error}") from None


class Writer:
    """An append-only buffer for one frame being built."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._buffer)

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def _pack(self, layout: struct.Struct, value: int | float, type_name: str) -> None:
        try:
            self._buffer += layout.pack(value)
        except struct.error as error:
            raise ProtocolError(f"cannot encode {value!r} as {type_name}: {error}") from None

    def int8(self, value: int) -> None:
        self._pack(_INT8, value, "int8")

    def int16(self, value: int) -> None:
        self._pack(_INT16, value, "int16")

    def uint16(self, value: int) -> None:
        self._pack(_UINT16, value, "uint16")

    def int32(self, value: int) -> None:
        self._pack(_INT32, value, "int32")

    def uint32(self, value: int) -> None:
        self._pack(_UINT32, value, "uint32")

    def int64(self, value: int) -> None:
        self._pack(_INT64, value, "int64")

    def float64(self, value: float) -> None:
        self._pack(_FLOAT64, value, "float64")

    def boolean(self, value: bool) -> None:
        self._buffer.append(1 if value else 0)

    def uuid(self, value: uuid.UUID) -> None:
        self._buffer += value.bytes

    def unsigned_varint(self, value: int) -> None:
        if value < 0:
            raise ProtocolError(f"cannot encode {value} as an unsigned varint")
        while value > 0x7F:
            self._buffer.append((value & 0x7F) | 0x80)
            value >>= 7
        self._buffer.append(value)

    def varint(self, value: int) -> None:
        self.unsigned_varint((value << 1) ^ (value >> 31))

    def varlong(self, value: int) -> None:
        self.unsigned_varint((value << 1) ^ (value >> 63))

    def length(self, size: int, compact: bool) -> None:
        """A string/bytes/array length; ``-1`` writes null."""
        if compact:
            self.unsigned_varint(size + 1)
        else:
            self.int32(size)

    def string_length(self, size: int, compact: bool) -> None:
        if compact:
            self.unsigned_varint(size + 1)
        else:
            self.int16(size)
