"""The broker-side dead-letter queue of KIP-1191 (Kafka 4.4, ``share.version=2``).

The broker itself writes a record to the group's DLQ topic when it archives it — after a
REJECT, or when the delivery count limit is reached, including a lock that expired at the limit
because the process holding the record died. No client sees that last case, so this is the
safety net: :mod:`.setup` configures the group's DLQ at startup, :mod:`.watcher` mirrors the
DLQ topic into ``DeadLetter`` rows. See docs/dead-letters.md.
"""
