"""Decompression of record batches: gzip (stdlib), snappy, lz4 and zstd (cramjam).

cramjam is one compiled wheel for all three non-stdlib codecs (no system libraries), so the
native adapter needs one dependency for compression instead of three. It is imported on first
use: a deployment whose topics are uncompressed or gzip never needs it.

Every codec stops at ``max_size`` bytes of output, so a decompression bomb (32 KB of zstd
that would expand to 1 GiB) fails fast as a corrupt batch instead of taking the memory: gzip
streams with a length limit, snappy's declared lengths are checked before decompressing, and
lz4/zstd decompress into a buffer of at most ``max_size + 1`` bytes (first a small one sized
from the input, then, only if that is too small, an anonymous map whose untouched pages cost
no memory).
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Callable
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


#: Kafka's fetch.max.bytes: no answer, hence no batch, is meant to be larger uncompressed.
DEFAULT_MAX_SIZE = 52_428_800
#: The first output buffer of lz4/zstd: this many times the input, at least _FIRST_BUFFER.
_FIRST_RATIO = 16
_FIRST_BUFFER = 64 * 1024


class DecompressionError(ShareGroupsError):
    """The batch's compressed payload cannot be decompressed (or its codec is unknown)."""


def decompress(codec: int, data: bytes | memoryview, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """The uncompressed records section of a batch compressed with ``codec``; raises
    :class:`DecompressionError` when it is broken or would be larger than ``max_size``."""
    if codec == NONE:
        return bytes(data)
    try:
        if codec == GZIP:
            return _gzip(data, max_size)
        if codec == SNAPPY:
            return _snappy(bytes(data), max_size)
        if codec == LZ4:
            return _bounded(_cramjam().lz4.decompress_into, data, max_size)
        if codec == ZSTD:
            return _bounded(_cramjam().zstd.decompress_into, data, max_size)
    except DecompressionError:
        raise
    except Exception as error:  # zlib.error, cramjam.DecompressionError, ...
        name = CODEC_NAMES.get(codec, str(codec))
        raise DecompressionError(f"cannot decompress {name}: {error}") from None
    raise DecompressionError(f"unknown compression codec {codec}")


def _too_large(max_size: int) -> DecompressionError:
    return DecompressionError(
        f"decompresses to more than {max_size} bytes (native.max.decompressed.batch.bytes)"
    )


def _gzip(data: bytes | memoryview, max_size: int) -> bytes:
    decompressor = zlib.decompressobj(47)  # 32 (gzip or zlib header) + 15 (largest window)
    output = decompressor.decompress(data, max_size + 1)
    if len(output) > max_size:
        raise _too_large(max_size)
    if not decompressor.eof:
        raise DecompressionError("cannot decompress gzip: truncated stream")
    return output


def _bounded(
    decompress_into: Callable[[Any, Any], int], data: bytes | memoryview, max_size: int
) -> bytes:
    """Decompress into a buffer of bounded size (the codec stops when it is full)."""
    first = min(max_size + 1, max(_FIRST_BUFFER, _FIRST_RATIO * len(data)))
    buffer = bytearray(first)
    try:
        size = _into(decompress_into, data, buffer, max_size)
    except DecompressionError:
        if first > max_size:
            raise
    else:
        with memoryview(buffer) as view:
            return bytes(view[:size])
    mapped = mmap.mmap(-1, max_size + 1)
    try:
        return mapped[: _into(decompress_into, data, mapped, max_size)]
    finally:
        mapped.close()


def _into(decompress_into: Callable[[Any, Any], int], data: Any, buffer: Any, limit: int) -> int:
    try:
        size = decompress_into(data, buffer)
    except Exception as error:
        if "whole buffer" in str(error):  # cramjam: the output did not fit
            raise _too_large(limit) from None
        raise
    if size > limit:
        raise _too_large(limit)
    return size


def _snappy(data: bytes, max_size: int) -> bytes:
    snappy = _cramjam().snappy
    if not data.startswith(_XERIAL_MAGIC):
        if snappy.decompress_raw_len(data) > max_size:
            raise _too_large(max_size)
        return bytes(snappy.decompress_raw(data))
    chunks = []
    total = 0
    position = _XERIAL_HEADER_SIZE
    while position < len(data):
        if position + 4 > len(data):
            raise DecompressionError("truncated xerial snappy block length")
        (size,) = _INT32.unpack_from(data, position)
        position += 4
        if size < 0 or position + size > len(data):
            raise DecompressionError(f"xerial snappy block of {size} bytes overruns the data")
        block = data[position : position + size]
        total += snappy.decompress_raw_len(block)
        if total > max_size:
            raise _too_large(max_size)
        chunks.append(bytes(snappy.decompress_raw(block)))
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
