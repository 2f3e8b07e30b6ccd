"""Decompression of record batches: gzip (stdlib), snappy, lz4 and zstd (cramjam).

cramjam is one compiled wheel for all three non-stdlib codecs (no system libraries), so the
native adapter needs one dependency for compression instead of three. It is imported on first
use: a deployment whose topics are uncompressed or gzip never needs it.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from ...exceptions import ShareGroupsError

#: The compression codec ids of the batch attributes (bits 0-2).
NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
CODEC_NAMES = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}

#: Kafka's Java producer frames snappy the way xerial's SnappyOutputStream does: this magic,
#: two int32 versions, then blocks of (int32 length, raw snappy). librdkafka writes raw snappy.
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER_SIZE = 16
_INT32 = struct.Struct(">i")


class DecompressionError(ShareGroupsError):
    """The batch's compressed payload cannot be decompressed (or its codec is unknown)."""


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    """The uncompressed records section of a batch compressed with ``codec``."""
    if codec == NONE:
        return bytes(data)
    try:
        if codec == GZIP:
            # 47 = 32 (detect gzip/zlib header) + 15 (largest window).
            return zlib.decompress(data, 47)
        if codec == SNAPPY:
            return _snappy(bytes(data))
        if codec == LZ4:
            return bytes(_cramjam().lz4.decompress(data))
        if codec == ZSTD:
            return bytes(_cramjam().zstd.decompress(data))
    except DecompressionError:
        raise
    except Exception as error:  # zlib.error, cramjam.DecompressionError, ...
        name = CODEC_NAMES.get(codec, str(codec))
        raise DecompressionError(f"cannot decompress {name}: {error}") from None
    raise DecompressionError(f"unknown compression codec {codec}")


def _snappy(data: bytes) -> bytes:
    snappy = _cramjam().snappy
    if not data.startswith(_XERIAL_MAGIC):
        return bytes(snappy.decompress_raw(data))
    chunks = []
    position = _XERIAL_HEADER_SIZE
    while position < len(data):
        if position + 4 > len(data):
            raise DecompressionError("truncated xerial snappy block length")
        (size,) = _INT32.unpack_from(data, position)
        position += 4
        if size < 0 or position + size > len(data):
            raise DecompressionError(f"xerial snappy block of {size} bytes overruns the data")
        chunks.append(bytes(snappy.decompress_raw(data[position : position + size])))
        position += size
    return b"".join(chunks)


def _cramjam() -> Any:
    try:
        import cramjam
    except ImportError:
        raise DecompressionError(
            "snappy, lz4 and zstd batches need the 'cramjam' package (pip install cramjam)"
        ) from None
    return cramjam
