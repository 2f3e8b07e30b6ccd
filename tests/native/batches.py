"""Building record batch v2 bytes for tests: an encoder written independently of the decoder,
so decoding tests check against the format, not against our own reading of it."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import cramjam
from crc32c import crc32c

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


@dataclass
class Rec:
    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)
    timestamp_delta: int = 0
    offset_delta: int | None = None


def zigzag(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while raw > 0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def _bytes_field(data: bytes | None) -> bytes:
    if data is None:
        return zigzag(-1)
    return zigzag(len(data)) + data


def encode_record(record: Rec, offset_delta: int) -> bytes:
    body = b"\x00" + zigzag(record.timestamp_delta) + zigzag(offset_delta)
    body += _bytes_field(record.key) + _bytes_field(record.value)
    body += zigzag(len(record.headers))
    for name, value in record.headers:
        body += _bytes_field(name.encode()) + _bytes_field(value)
    return zigzag(len(body)) + body


def compress(codec: str, data: bytes, *, xerial: bool = False) -> bytes:
    if codec == "none":
        return data
    if codec == "gzip":
        return gzip.compress(data)
    if codec == "snappy":
        raw = bytes(cramjam.snappy.compress_raw(data))
        if not xerial:
            return raw
        header = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
        return header + struct.pack(">i", len(raw)) + raw
    if codec == "lz4":
        return bytes(cramjam.lz4.compress(data))
    if codec == "zstd":
        return bytes(cramjam.zstd.compress(data))
    raise ValueError(codec)


def batch(
    base_offset: int,
    records: Sequence[Rec],
    *,
    codec: str = "none",
    base_timestamp: int = 1_700_000_000_000,
    log_append_time: int | None = None,
    control: bool = False,
    transactional: bool = False,
    last_offset_delta: int | None = None,
    xerial: bool = False,
    corrupt_crc: bool = False,
    magic: int = 2,
    payload: bytes | None = None,
    record_count: int | None = None,
) -> bytes:
    """One batch; records get offset deltas 0, 1, ... unless they name their own.

    ``payload`` replaces the (compressed) records section as given, ``record_count`` the count
    in the header: for batches that lie about their contents.
    """
    if payload is None:
        encoded = b"".join(
            encode_record(r, r.offset_delta if r.offset_delta is not None else i)
            for i, r in enumerate(records)
        )
        payload = compress(codec, encoded, xerial=xerial)
    attributes = CODECS[codec]
    if log_append_time is not None:
        attributes |= 0x08
    if transactional:
        attributes |= 0x10
    if control:
        attributes |= 0x20
    if last_offset_delta is None:
        deltas = [
            r.offset_delta if r.offset_delta is not None else i for i, r in enumerate(records)
        ]
        last_offset_delta = max(deltas, default=0)
    max_timestamp = log_append_time if log_append_time is not None else base_timestamp
    after_crc = (
        struct.pack(
            ">hiqqqhii",
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            -1,
            -1,
            -1,
            len(records) if record_count is None else record_count,
        )
        + payload
    )
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    after_length = struct.pack(">ibI", 0, magic, crc) + after_crc
    return struct.pack(">qi", base_offset, len(after_length)) + after_length


def control_batch(base_offset: int, commit: bool = True) -> bytes:
    """A transaction marker (one control record: key = version 0 + type, value = marker)."""
    key = struct.pack(">hh", 0, 1 if commit else 0)
    value = struct.pack(">hi", 0, 0)
    return batch(base_offset, [Rec(value, key=key)], control=True, transactional=True)


def fix_crc(data: bytes) -> bytes:
    """Recompute a (single) batch's CRC after editing it, to get past the CRC check."""
    fixed = bytearray(data)
    struct.pack_into(">I", fixed, 17, crc32c(bytes(data[21:])))
    return bytes(fixed)
