"""The ``native`` client adapter: a pure-Python share consumer on the project's Kafka protocol
layer, for what librdkafka cannot do yet — RENEW (KIP-1222), a strict record limit (KIP-1206)
and holding records across polls.

One module per concern: :mod:`.membership` (heartbeats), :mod:`.sessions` (share sessions),
:mod:`.records` and :mod:`.compression` (record batches), :mod:`.delivery` (acquired records
of one partition), :mod:`.acknowledgements` (pending acks as ranges), :mod:`.topics` (ids and
leaders), :mod:`.consumer` (the adapter), :mod:`.factory` (settings, producer, admin).
"""

from .consumer import NativeShareConsumer
from .delivery import CorruptBatch
from .factory import NativeClientFactory, factory_from_settings

__all__ = ["CorruptBatch", "NativeClientFactory", "NativeShareConsumer", "factory_from_settings"]
