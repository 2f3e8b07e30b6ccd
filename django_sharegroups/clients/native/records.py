"""Record batch v2 (Kafka's on-disk and on-wire format since 0.11): framing, CRC32C, records.

A ShareFetch answer carries whole batches as the log holds them; the broker acquires only some
of their offsets for this member. So batches are read lazily: framing and CRC first, the
(possibly compressed) records only when the batch holds an acquired offset, and inside it a
record is materialised only when ``wanted(offset)`` says so — the others are skipped by their
length prefix.

Batch layout (big-endian)::

    base_offset int64 | batch_length int32 | partition_leader_epoch int32 | magic int8 (=2)
    | crc uint32 (CRC32C of everything after it) | attributes int16 | last_offset_delta int32
    | base_timestamp int64 | max_timestamp int64 | producer_id int64 | producer_epoch int16
    | base_sequence int32 | record_count int32 | records...

Record layout (varints are zigzag)::

    length varint | attributes int8 | timestamp_delta varlong | offset_delta varint
    | key_length varint | key | value_length varint | value
    | header_count varint | (key_length varint | key utf-8 | value_length varint | value)*
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ...exceptions import ShareGroupsError
from .compression import CODEC_NAMES, DEFAULT_MAX_SIZE, NONE, DecompressionError, decompress

_crc32c: Callable[[bytes | memoryview], int] | None
try:
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - the dependency is declared; this keeps imports working
    _crc32c = None

try:  # aiokafka's compiled record batch v2 reader (about 5x faster than the loop below)
    from aiokafka.record._crecords.default_records import DefaultRecordBatch as _CompiledBatch
except ImportError:  # pragma: no cover - no wheel for this platform: the pure-Python loop
    _CompiledBatch = None

#: Bytes before the first record (base_offset .. record_count).
BATCH_HEADER_SIZE = 61
#: Bytes counted in batch_length: everything after base_offset and batch_length.
_LENGTH_OFFSET = 12
#: The CRC covers the batch from the attributes to its end.
_CRC_START = 21
_MAGIC_OFFSET = 16

_HEADER = struct.Struct(">qiibIhiqqqhii")

_COMPRESSION_MASK = 0x07
_TIMESTAMP_TYPE_LOG_APPEND = 0x08
_TRANSACTIONAL = 0x10
_CONTROL = 0x20
#: The shortest possible record: length, attributes, timestamp delta, offset delta, key length,
#: value length, header count — one byte each.
_MIN_RECORD_SIZE = 7


class CorruptBatchError(ShareGroupsError):
    """A batch whose bytes cannot be trusted (CRC mismatch, bad framing, bad compression)."""


class Record(NamedTuple):
    """One data record, decoded (a tuple: millions are made, and tuples are made fastest)."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """One batch as framed on the wire; ``error`` is set when it cannot be decoded.

    ``last_offset`` is ``None`` when even the framing is broken (the batch's extent is unknown),
    so a caller treats every later offset of the partition as part of the broken batch.
    """

    base_offset: int
    last_offset: int | None
    attributes: int = 0
    crc: int = 0
    base_timestamp: int = 0
    max_timestamp: int = 0
    producer_id: int = -1
    record_count: int = 0
    payload: memoryview | None = None
    header: memoryview | None = None
    error: str | None = None
    #: The whole batch as framed (header and payload), when it is good.
    raw: memoryview | None = None

    @property
    def compression(self) -> int:
        return self.attributes & _COMPRESSION_MASK

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL)

    def contains(self, offset: int) -> bool:
        return offset >= self.base_offset and (
            self.last_offset is None or offset <= self.last_offset
        )

    def records(
        self,
        wanted: Callable[[int], bool] | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> list[Record]:
        """The data records (none for a control batch), only those ``wanted`` if given.

        Raises ``CorruptBatchError`` when the batch is broken, its records do not parse, or it
        decompresses to more than ``max_size`` bytes.
        """
        return [
            row if type(row) is Record else Record._make(row)
            for row in self.rows(wanted, max_size=max_size)
        ]

    def rows(
        self,
        wanted: Callable[[int], bool] | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> Sequence[tuple]:
        """``records()`` as plain ``(offset, timestamp_ms, key, value, headers)`` tuples where
        that is cheaper (the compiled reader): what the delivery step unpacks."""
        if self.error is not None:
            raise CorruptBatchError(self.error)
        if self.is_control:
            return []
        compiled = _CompiledBatch is not None and self.header is not None
        if compiled and self.compression == NONE and self.raw is not None:
            # Uncompressed: the reader takes the batch as it came (one copy, no rewriting).
            self._check_fits(len(self.raw) - BATCH_HEADER_SIZE)
            return self._compiled_records(bytes(self.raw), wanted)
        try:
            data = decompress(self.compression, self.payload or b"", max_size)
        except DecompressionError as error:
            raise CorruptBatchError(f"batch at offset {self.base_offset}: {error}") from None
        self._check_fits(len(data))
        if compiled:
            header = bytearray(self.header or b"")  # set whenever compiled is true
            struct.pack_into(">i", header, 8, BATCH_HEADER_SIZE - _LENGTH_OFFSET + len(data))
            struct.pack_into(">h", header, _CRC_START, self.attributes & ~_COMPRESSION_MASK)
            return self._compiled_records(bytes(header) + data, wanted)
        log_append = self.max_timestamp if self.attributes & _TIMESTAMP_TYPE_LOG_APPEND else None
        last_delta = -1 if self.last_offset is None else self.last_offset - self.base_offset
        try:
            return _parse_records(
                data,
                self.record_count,
                self.base_offset,
                last_delta,
                self.base_timestamp,
                log_append,
                wanted,
            )
        except (IndexError, ValueError, OverflowError) as error:
            raise CorruptBatchError(
                f"batch at offset {self.base_offset} ({CODEC_NAMES.get(self.compression)}): "
                f"records do not parse: {error}"
            ) from None

    def _check_fits(self, size: int) -> None:
        if self.record_count * _MIN_RECORD_SIZE > size:
            raise CorruptBatchError(
                f"batch at offset {self.base_offset}: {self.record_count} records cannot fit "
                f"in {size} bytes"
            )

    def _compiled_records(self, batch: bytes, wanted: Callable[[int], bool] | None) -> list[tuple]:
        """The records read by aiokafka's compiled reader from an uncompressed batch (a copy
        with the codec bits cleared when it was compressed: decompression stays here, under its
        size cap; the CRC was checked on the original)."""
        records: list[tuple] = []
        append = records.append
        previous = self.base_offset - 1
        last = self.last_offset
        try:
            for record in _CompiledBatch(batch):
                offset = record.offset
                if not previous < offset <= last:
                    raise ValueError(f"offset {offset} out of order or past the batch")
                previous = offset
                if wanted is not None and not wanted(offset):
                    continue
                headers = record.headers
                append(
                    (
                        offset,
                        record.timestamp,
                        record.key,
                        record.value,
                        tuple(headers) if headers else (),
                    )
                )
        except Exception as error:  # noqa: BLE001 - whatever the reader says, the bytes are bad
            raise CorruptBatchError(
                f"batch at offset {self.base_offset} ({CODEC_NAMES.get(self.compression)}): "
                f"records do not parse: {error}"
            ) from None
        return records


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C (Castagnoli), as record batches use it."""
    if _crc32c is None:
        raise RuntimeError("the native client adapter needs the 'crc32c' package")
    return _crc32c(data)


def read_batches(data: bytes | memoryview, *, verify_crc: bool = True) -> Iterator[RecordBatch]:
    """The batches in a ``records`` field, in order.

    A trailing partial batch (the broker may cut the last one at its byte limit) is not an
    error and is left out. A batch with a bad CRC or magic is yielded with ``error`` set and
    reading goes on with the next; broken framing ends the reading with one last broken batch.
    """
    view = memoryview(data)
    size = len(view)
    position = 0
    previous_last = -1
    while size - position >= _LENGTH_OFFSET:
        base_offset, batch_length = struct.unpack_from(">qi", view, position)
        end = position + _LENGTH_OFFSET + batch_length
        if base_offset <= previous_last:
            yield RecordBatch(
                base_offset, None, error=f"batch at offset {base_offset} overlaps the one before"
            )
            return
        if batch_length < BATCH_HEADER_SIZE - _LENGTH_OFFSET:
            yield RecordBatch(base_offset, None, error=f"impossible batch length {batch_length}")
            return
        if end > size:
            return  # partial trailing batch
        magic = view[position + _MAGIC_OFFSET]
        if magic != 2:
            yield RecordBatch(
                base_offset, None, error=f"unsupported record batch magic {magic} (expected 2)"
            )
            return
        (
            _,
            _,
            _leader_epoch,
            _,
            crc,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            _producer_epoch,
            _base_sequence,
            record_count,
        ) = _HEADER.unpack_from(view, position)
        last_offset = base_offset + last_offset_delta
        if last_offset_delta < 0 or not 0 <= record_count <= last_offset_delta + 1:
            yield RecordBatch(
                base_offset,
                last_offset if last_offset_delta >= 0 else None,
                error=(
                    f"batch at offset {base_offset} claims {record_count} records in "
                    f"{last_offset_delta + 1} offsets"
                ),
            )
            if last_offset_delta < 0:
                return
            previous_last = last_offset
            position = end
            continue
        previous_last = last_offset
        if verify_crc:
            actual = crc32c(view[position + _CRC_START : end])
            if actual != crc:
                yield RecordBatch(
                    base_offset,
                    last_offset,
                    error=(
                        f"CRC mismatch in batch at offset {base_offset}: stored {crc:#010x}, "
                        f"computed {actual:#010x}"
                    ),
                )
                position = end
                continue
        yield RecordBatch(
            base_offset=base_offset,
            last_offset=last_offset,
            attributes=attributes,
            crc=crc,
            base_timestamp=base_timestamp,
            max_timestamp=max_timestamp,
            producer_id=producer_id,
            record_count=record_count,
            payload=view[position + BATCH_HEADER_SIZE : end],
            header=view[position : position + BATCH_HEADER_SIZE],
            raw=view[position:end],
        )
        position = end


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    """A zigzag varint/varlong at ``position``: (value, next position)."""
    byte = buffer[position]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), position + 1
    raw = byte & 0x7F
    shift = 7
    while True:
        position += 1
        byte = buffer[position]
        raw |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (raw >> 1) ^ -(raw & 1), position + 1
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _parse_records(
    data: bytes,
    count: int,
    base_offset: int,
    last_delta: int,
    base_timestamp: int,
    log_append_timestamp: int | None,
    wanted: Callable[[int], bool] | None,
) -> list[Record]:
    # One-byte varints (the common case for lengths and deltas) are decoded inline: this loop
    # is the native adapter's hottest code.
    size = len(data)
    if count * _MIN_RECORD_SIZE > size:
        raise ValueError(f"{count} records cannot fit in {size} bytes")
    records: list[Record] = []
    append = records.append
    make = tuple.__new__
    position = 0
    previous_delta = -1
    for _ in range(count):
        byte = data[position]
        if byte < 0x80:
            length, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            length, position = _varint(data, position)
        end = position + length
        if length < 0 or end > size:
            raise ValueError(f"record length {length} overruns the batch")
        position += 1  # attributes (unused)
        byte = data[position]
        if byte < 0x80:
            timestamp_delta, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            timestamp_delta, position = _varint(data, position)
        byte = data[position]
        if byte < 0x80:
            offset_delta, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            offset_delta, position = _varint(data, position)
        if not previous_delta < offset_delta <= last_delta:
            raise ValueError(f"offset delta {offset_delta} out of order or past the batch")
        previous_delta = offset_delta
        offset = base_offset + offset_delta
        if wanted is not None and not wanted(offset):
            position = end
            continue
        byte = data[position]
        if byte < 0x80:
            key_length, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            key_length, position = _varint(data, position)
        if key_length < 0:
            key = None
        elif key_length > end - position:
            raise ValueError(f"key length {key_length} overruns its record")
        else:
            key = data[position : position + key_length]
            position += key_length
        byte = data[position]
        if byte < 0x80:
            value_length, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            value_length, position = _varint(data, position)
        if value_length < 0:
            value = None
        elif value_length > end - position:
            raise ValueError(f"value length {value_length} overruns its record")
        else:
            value = data[position : position + value_length]
            position += value_length
        byte = data[position]
        if byte < 0x80:
            header_count, position = (byte >> 1) ^ -(byte & 1), position + 1
        else:
            header_count, position = _varint(data, position)
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if header_count:
            if not 0 < header_count * 2 <= end - position:
                raise ValueError(f"{header_count} headers cannot fit in their record")
            headers, position = _parse_headers(data, position, header_count)
        if position != end:
            raise ValueError(f"record at offset {offset} is {end - position} bytes off its length")
        timestamp = (
            base_timestamp + timestamp_delta
            if log_append_timestamp is None
            else log_append_timestamp
        )
        append(make(Record, (offset, timestamp, key, value, headers)))
    if position != size:
        raise ValueError(f"{size - position} bytes after the last of {count} records")
    return records


def _parse_headers(
    data: bytes, position: int, count: int
) -> tuple[tuple[tuple[str, bytes | None], ...], int]:
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(count):
        name_length, position = _varint(data, position)
        if name_length < 0:
            raise ValueError("null header key")
        if name_length > len(data) - position:
            raise ValueError(f"header key length {name_length} overruns the batch")
        name = data[position : position + name_length].decode("utf-8", "replace")
        position += name_length
        header_length, position = _varint(data, position)
        if header_length < 0:
            headers.append((name, None))
        elif header_length > len(data) - position:
            raise ValueError(f"header value length {header_length} overruns the batch")
        else:
            headers.append((name, data[position : position + header_length]))
            position += header_length
    return tuple(headers), position
