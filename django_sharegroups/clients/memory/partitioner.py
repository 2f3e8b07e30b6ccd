"""Choosing a partition for a produced record, the way Kafka's Java producer does.

Keyed records go to ``murmur2(key) & 0x7fffffff % partitions`` (Kafka's default partitioner,
so a key lands on the same partition as with a Java producer). librdkafka's default
(``consistent_random``, CRC32-based) is available as ``"crc32"``. Records without a key are
spread round-robin per topic, deterministic where Kafka's sticky partitioner is not.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

__all__ = ["PARTITIONERS", "crc32_partition", "murmur2", "murmur2_partition"]

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 with Kafka's seed, as a signed int (Java's ``Utils.murmur2``)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def murmur2_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def crc32_partition(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


PARTITIONERS: dict[str, Callable[[bytes, int], int]] = {
    "murmur2": murmur2_partition,
    "crc32": crc32_partition,
}
