"""A seeded mutation fuzzer for what the native adapter reads from the network.

Three targets, each fed mutations (bit flips, interesting integers, truncations, splices,
insertions) of real inputs — ShareFetch answers and record batches recorded from Kafka 4.4
(``data/recorded_frames.json``) and batches of every codec built by ``batches.py``:

- ``protocol``: ``decode_response`` of ShareFetch/ShareAcknowledge/ShareGroupHeartbeat answers
  may only raise ``ProtocolError``;
- ``batches``: ``read_batches`` never raises, ``RecordBatch.records`` only ``CorruptBatchError``;
- ``delivery``: ``deliver_partition`` with mutated batches *and* mutated acquired ranges
  (inverted, overlapping, negative, huge) may only raise ``InvalidAcquiredRecords``, and what
  it returns settles every acquired offset exactly once (delivered, or acknowledged) and
  nothing else.

A finding is any other exception or a broken invariant; it is printed with the number of its
input and the run exits 1. The same seed gives the same inputs, so a finding replays. ::

    python -m tests.native.fuzz --inputs 1000000 --seed 1     # docs/native.md has the result
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django_sharegroups.clients.native.acknowledgements import TopicIdPartition
from django_sharegroups.clients.native.delivery import InvalidAcquiredRecords, deliver_partition
from django_sharegroups.clients.native.records import CorruptBatchError, read_batches
from django_sharegroups.kafka.errors import ProtocolError
from django_sharegroups.kafka.protocol import decode_response
from django_sharegroups.kafka.protocol.messages.share_consumer import (
    SHARE_ACKNOWLEDGE,
    SHARE_FETCH,
    SHARE_GROUP_HEARTBEAT,
)

from .batches import CODECS, Rec, batch, control_batch

DATA_FILE = Path(__file__).with_name("data") / "recorded_frames.json"
PARTITION = TopicIdPartition(uuid.UUID(int=1), "jobs", 0)
#: What the fetch "asked for": the delivery step refuses more acquired offsets than this.
MAX_ACQUIRED = 500
SHARE_APIS = {api.key: api for api in (SHARE_FETCH, SHARE_ACKNOWLEDGE, SHARE_GROUP_HEARTBEAT)}
INTERESTING = (0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, -0x8000, 0x7FFFFFFF, -0x80000000, 10**8)


@dataclass
class Corpus:
    frames: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(api key, version, response frame)."""
    batches: list[bytes] = field(default_factory=list)
    acquired: list[list[tuple[int, int, int]]] = field(default_factory=list)


def load_corpus() -> Corpus:
    recorded = json.loads(DATA_FILE.read_text())
    corpus = Corpus()
    for frame in recorded["frames"]:
        corpus.frames.append((frame["api_key"], frame["version"], bytes.fromhex(frame["response"])))
    for item in recorded["batches"]:
        corpus.batches.append(bytes.fromhex(item["records"]))
        corpus.acquired.append([tuple(r) for r in item["acquired"]])
    records = [
        Rec(b"value-%d" % i, key=b"k%d" % i, headers=[("h", b"v")] if i % 3 else ())
        for i in range(6)
    ]
    for codec in CODECS:
        corpus.batches.append(batch(10, records, codec=codec))
    corpus.batches.append(batch(0, records[:2]) + control_batch(2) + batch(3, records[:3]))
    corpus.batches.append(batch(0, [Rec(b"a", offset_delta=0), Rec(b"c", offset_delta=4)]))
    corpus.acquired += [[(10, 15, 1)], [(0, 5, 2)], [(0, 1, 1), (3, 4, 3)]]
    return corpus


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        if not out:
            out += rng.randbytes(rng.randint(1, 16))
            continue
        position = rng.randrange(len(out))
        if choice == 0:  # flip a bit
            out[position] ^= 1 << rng.randrange(8)
        elif choice == 1:  # an interesting byte
            out[position] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF))
        elif choice == 2 and position + 4 <= len(out):  # an interesting int32
            value = rng.choice(INTERESTING) & 0xFFFFFFFF
            out[position : position + 4] = struct.pack(">I", value)
        elif choice == 3:  # truncate
            del out[position:]
        elif choice == 4:  # insert random bytes
            out[position:position] = rng.randbytes(rng.randint(1, 8))
        elif choice == 5:  # duplicate a slice
            end = min(len(out), position + rng.randint(1, 64))
            out[position:position] = out[position:end]
        else:  # delete a slice
            del out[position : position + rng.randint(1, 16)]
    return bytes(out)


def mutate_acquired(
    acquired: list[tuple[int, int, int]], rng: random.Random
) -> list[tuple[int, int, int]]:
    ranges = list(acquired)
    choice = rng.randrange(6)
    if choice == 0 or not ranges:  # something absurd
        first = rng.choice((0, -1, 2**62, 2**63 - 1))
        ranges.append((first, first + rng.choice((-5, 0, 10**8, 2**63)), rng.choice((0, 1, -3))))
    elif choice == 1:  # inverted
        first, last, count = ranges.pop(rng.randrange(len(ranges)))
        ranges.append((last, first - rng.randint(1, 3), count))
    elif choice == 2:  # overlapping
        ranges.append(rng.choice(ranges))
    elif choice == 3:  # shifted
        delta = rng.randint(-20, 20)
        ranges = [(f + delta, last + delta, c) for f, last, c in ranges]
    elif choice == 4:  # another delivery count
        first, last, _ = ranges.pop(rng.randrange(len(ranges)))
        ranges.append((first, last, rng.choice((1, 2, 5, 0x7FFF, -0x8000))))
    # choice 5: unchanged, so that mutated batches meet sane ranges too
    return ranges


class Finding(Exception):
    pass


def check_protocol(corpus: Corpus, rng: random.Random) -> bytes:
    api_key, version, frame = rng.choice(corpus.frames)
    data = mutate(frame, rng)
    try:
        decode_response(SHARE_APIS[api_key], version, data)
    except ProtocolError:
        pass
    return data


def check_batches(corpus: Corpus, rng: random.Random) -> bytes:
    data = mutate(rng.choice(corpus.batches), rng)
    for read in read_batches(data):
        try:
            records = read.records()
        except CorruptBatchError:
            continue
        offsets = [r.offset for r in records]
        if offsets != sorted(set(offsets)) or any(not read.contains(o) for o in offsets):
            raise Finding(f"records at offsets {offsets} outside or out of order in their batch")
    return data


def check_delivery(corpus: Corpus, rng: random.Random) -> bytes:
    index = rng.randrange(len(corpus.batches))
    data = corpus.batches[index]
    if rng.random() < 0.8:
        data = mutate(data, rng)
    acquired = rng.choice(corpus.acquired) if rng.random() < 0.3 else _near(data, rng)
    if rng.random() < 0.5:
        acquired = mutate_acquired(acquired, rng)
    try:
        delivery = deliver_partition(
            PARTITION, data, acquired, max_acquired=MAX_ACQUIRED, max_decompressed=1 << 20
        )
    except InvalidAcquiredRecords:
        return data
    wanted = {o for first, last, _ in acquired for o in range(first, last + 1)}
    delivered = [r.offset for r in delivery.records]
    settled = set(delivery.acknowledgements)
    if len(delivered) != len(set(delivered)) or set(delivered) & settled:
        raise Finding("an offset was delivered twice, or delivered and settled")
    if set(delivered) | settled != wanted:
        raise Finding(f"acquired {sorted(wanted)[:20]} but delivered/settled differ")
    return data


def _near(data: bytes, rng: random.Random) -> list[tuple[int, int, int]]:
    """Acquired ranges around the batches actually in ``data``."""
    ranges = []
    for read in read_batches(data):
        last = read.last_offset if read.last_offset is not None else read.base_offset
        if 0 <= read.base_offset <= last < read.base_offset + MAX_ACQUIRED // 4:
            ranges.append((read.base_offset, last, rng.randint(1, 5)))
    ranges.sort()
    merged: list[tuple[int, int, int]] = []
    for first, last, count in ranges:
        if merged and first <= merged[-1][1]:
            continue
        merged.append((first, last, count))
    return merged or [(0, rng.randint(0, 10), 1)]


TARGETS: dict[str, Callable[[Corpus, random.Random], bytes]] = {
    "protocol": check_protocol,
    "batches": check_batches,
    "delivery": check_delivery,
}


@dataclass
class Outcome:
    target: str
    inputs: int = 0
    findings: list[str] = field(default_factory=list)
    slowest: float = 0.0
    seconds: float = 0.0


def run(target: str, inputs: int, seed: int, corpus: Corpus | None = None) -> Outcome:
    """Feed ``inputs`` mutated inputs to ``target``; collect findings (at most 10)."""
    corpus = corpus or load_corpus()
    rng = random.Random(f"{target}:{seed}")
    check = TARGETS[target]
    outcome = Outcome(target)
    started = time.perf_counter()
    for _ in range(inputs):
        before = time.perf_counter()
        try:
            check(corpus, rng)
        except Exception as error:  # noqa: BLE001 - every other exception is a finding
            outcome.findings.append(f"{type(error).__name__}: {error} (input {outcome.inputs})")
            if len(outcome.findings) >= 10:
                break
        outcome.slowest = max(outcome.slowest, time.perf_counter() - before)
        outcome.inputs += 1
    outcome.seconds = time.perf_counter() - started
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", choices=sorted(TARGETS), action="append")
    options = parser.parse_args(argv)
    corpus = load_corpus()
    failed = False
    for target in options.target or list(TARGETS):
        outcome = run(target, options.inputs, options.seed, corpus)
        print(
            f"{target}: {outcome.inputs} inputs, {len(outcome.findings)} findings, "
            f"{outcome.seconds:.0f}s, slowest input {outcome.slowest * 1000:.1f} ms",
            flush=True,
        )
        for finding in outcome.findings:
            print(f"  {finding}")
        failed = failed or bool(outcome.findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
