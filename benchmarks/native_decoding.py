"""The native adapter's delivery step per record: aiokafka's compiled record reader against the
pure-Python one, on the same batches.

``python -m benchmarks.native_decoding [--records 500] [--rounds 5] [--repeat 200]``

One batch of ``--records`` records (keys, ~60-byte JSON values, one header on every third),
uncompressed and in each codec; ``deliver_partition`` turns it into ``ReceivedRecord`` objects
with every offset acquired (CRC check, decompression with its size cap, record parsing). The
two readers alternate, ``--rounds`` rounds of ``--repeat`` deliveries each; the best round of
each is reported in CPU µs per record (process time, so other load on the machine counts less).
"""

from __future__ import annotations

import argparse
import time
import uuid

from django_sharegroups.clients.native import records
from django_sharegroups.clients.native.acknowledgements import TopicIdPartition
from django_sharegroups.clients.native.delivery import DecodedBatches, deliver_partition
from tests.native.batches import CODECS, Rec, batch

PARTITION = TopicIdPartition(uuid.UUID(int=1), "jobs", 0)


def per_record(data: bytes, count: int, repeat: int) -> float:
    acquired = [(0, count - 1, 1)]
    started = time.process_time()
    for _ in range(repeat):
        # A fresh cache, as on the first fetch of a batch (the consumer's path: no filter).
        delivery = deliver_partition(PARTITION, data, acquired, cache=DecodedBatches())
    assert len(delivery.records) == count
    return (time.process_time() - started) / repeat / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    options = parser.parse_args()
    compiled = records._CompiledBatch
    if compiled is None:
        raise SystemExit("aiokafka's compiled record reader is not installed")
    payloads = [
        Rec(
            b'{"order": %d, "state": "paid", "amount": 1999}' % i,
            key=b"order-%d" % i,
            headers=[("trace", b"abc")] if i % 3 == 0 else (),
        )
        for i in range(options.records)
    ]
    print(f"{options.records} records per batch, CPU µs per record (best of {options.rounds})")
    print(f"{'codec':8} {'python':>8} {'compiled':>9} {'speedup':>8}")
    for codec in CODECS:
        data = batch(0, payloads, codec=codec)
        best = {"python": float("inf"), "compiled": float("inf")}
        for _ in range(options.rounds):
            for name, reader in (("python", None), ("compiled", compiled)):
                records._CompiledBatch = reader
                best[name] = min(best[name], per_record(data, options.records, options.repeat))
        records._CompiledBatch = compiled
        speedup = best["python"] / best["compiled"]
        print(f"{codec:8} {best['python']:8.2f} {best['compiled']:9.2f} {speedup:7.1f}x")


if __name__ == "__main__":
    main()
