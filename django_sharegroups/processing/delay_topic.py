"""Retries later than any lock allows: move the record to a delay topic, bring it back later.

``release_to_delay_topic`` copies a record to a delay topic with its due time and ACCEPTs the
original (the work now lives in the copy). A share group running ``DelayTopicConsumer`` on the
delay topic re-publishes each copy to its origin topic once due. Unlike a delayed RELEASE this
does not use up the origin group's delivery count, and no lock has to last until the retry.
"""

from __future__ import annotations

import time

from ..consumer import ShareGroupConsumer
from ..messages import Message, Messages

DELIVER_AT = "sharegroups.delay.deliver-at"
ORIGIN_TOPIC = "sharegroups.delay.origin-topic"
_DELAY_HEADERS = (DELIVER_AT, ORIGIN_TOPIC)


def release_to_delay_topic(
    consumer: ShareGroupConsumer, message: Message, delay_ms: int, delay_topic: str
) -> tuple[int, int]:
    """Park ``message`` in ``delay_topic`` for ``delay_ms``, then ACCEPT it here."""
    due = int(time.time() * 1000) + delay_ms
    headers = [
        *[(k, v) for k, v in message.raw_headers if k not in _DELAY_HEADERS],
        (DELIVER_AT, str(due).encode()),
        (ORIGIN_TOPIC, message.topic.encode()),
    ]
    stored = consumer.produce(
        delay_topic, message.raw_payload, key=message.raw_key, headers=headers
    )
    consumer.mark_accepted(message)
    return stored


class DelayTopicConsumer(ShareGroupConsumer):
    """Consumes a delay topic: re-publishes each record to its origin topic when it is due.

    A record due within ``max_hold_ms`` is held (slept on) in the worker; one due later is put
    back at the end of the delay topic, so no record is held longer than ``max_hold_ms`` —
    keep that well below the group's ``share.record.lock.duration.ms``. Declare it with
    ``deserializer="raw"``.
    """

    max_hold_ms = 10_000

    def consume(self, messages: Messages) -> None:
        for message in messages:
            headers = dict(message.raw_headers)
            due_ms = int(headers[DELIVER_AT] or 0)
            wait = due_ms / 1000 - time.time()
            if 0 < wait <= self.max_hold_ms / 1000:
                time.sleep(wait)
                wait = 0
            if wait > 0:  # not due for a while: back of the queue
                self.produce(
                    message.topic,
                    message.raw_payload,
                    key=message.raw_key,
                    headers=list(message.raw_headers),
                )
            else:
                origin = (headers[ORIGIN_TOPIC] or b"").decode()
                kept = [(k, v) for k, v in message.raw_headers if k not in _DELAY_HEADERS]
                self.produce(origin, message.raw_payload, key=message.raw_key, headers=kept)
            self.mark_accepted(message)
