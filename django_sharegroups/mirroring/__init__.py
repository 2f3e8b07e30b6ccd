"""Mirroring of runtime state into models, off the hot path (see docs/orm.md).

Event listeners (``listeners.py``) only put small tuples on bounded queues; the reporter thread
(``reporter.py``) turns them into batched bulk upserts (``writers.py``) every interval.
"""
