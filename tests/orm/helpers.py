"""What only the ORM tests need: records and messages by hand, the Effect rows consumers write
and count; running groups, producing and waiting are tests/helpers.py's."""

from __future__ import annotations

import json
import threading
from collections import Counter

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.base import ReceivedRecord
from django_sharegroups.messages import Deserializers, Message

from .models import Effect


def numbered(count: int) -> list[dict]:
    """Payloads ``{"n": 0}`` … ``{"n": count - 1}`` for ``tests.helpers.produce``."""
    return [{"n": number} for number in range(count)]


def record(topic_name: str, offset: int, partition: int = 0, delivery_count: int = 1):
    return ReceivedRecord(
        topic_name,
        partition,
        offset,
        key=None,
        value=json.dumps({"offset": offset}).encode(),
        delivery_count=delivery_count,
    )


def messages(route, offsets, partition: int = 0, delivery_count: int = 1) -> list[Message]:
    deserializers = Deserializers.for_topic(route)
    return [
        Message.deserialize(record(route.name, o, partition, delivery_count), deserializers)
        for o in offsets
    ]


def write_effect(share_group_name: str, message) -> Effect:
    return Effect.objects.create(
        share_group=share_group_name,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        delivery_count=message.delivery_count,
        thread=threading.current_thread().name,
    )


def duplicates(share_group_name: str) -> dict[tuple[int, int], int]:
    """(partition, offset) → effects, for records with more than one effect."""
    counts = Counter(
        Effect.objects.filter(share_group=share_group_name).values_list("partition", "offset")
    )
    return {key: count for key, count in counts.items() if count > 1}


class EffectConsumer(ShareGroupConsumer):
    """Writes one Effect row per message through the ORM, then ACCEPTs it."""

    def consume(self, messages):
        for message in messages:
            write_effect(self.share_group.name, message)
            self.mark_accepted(message)
