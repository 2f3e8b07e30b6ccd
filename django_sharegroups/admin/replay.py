"""Replay dead letters: produce each one again to its origin topic, marked as a replay.

The copy keeps the record's key, payload and headers and gets one more header,
``sharegroups.replayed-from`` = ``<share group>/<topic>[<partition>]@<offset>`` of the original,
so a consumer can tell a replay from a first delivery. The producer comes from the project's
client adapter (``SHAREGROUPS["CLIENT"]`` / ``["KAFKA"]``), like the DLQ's own producer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone

from ..clients import build_client_factory
from ..clients.base import RecordProducer
from ..conf import get_settings
from ..mirroring.writers import decode_headers

REPLAY_HEADER = "sharegroups.replayed-from"


@dataclass
class ReplayOutcome:
    replayed: list = field(default_factory=list)
    #: Rows that cannot be replayed faithfully: payload cut at the mirror's size limit, or a
    #: broker DLQ record without a copy (``errors.deadletterqueue.copy.record.enable=false``).
    skipped: list = field(default_factory=list)
    #: ``(row, error message)`` for rows the broker did not take.
    failed: list = field(default_factory=list)


def build_producer() -> RecordProducer:
    settings = get_settings()
    return build_client_factory(settings.client, settings).producer()


def replay_header(dead_letter) -> tuple[str, bytes]:
    origin = f"{dead_letter.share_group}/{dead_letter.topic}[{dead_letter.partition}]"
    return REPLAY_HEADER, f"{origin}@{dead_letter.offset}".encode()


def replay(dead_letters: Iterable, producer: RecordProducer | None = None) -> ReplayOutcome:
    """Produce each dead letter to its origin topic; mark the ones the broker stored."""
    outcome = ReplayOutcome()
    own_producer = producer is None
    producer = producer or build_producer()
    try:
        for row in dead_letters:
            if row.payload_truncated or (row.payload is None and row.source == "broker"):
                outcome.skipped.append(row)
                continue
            headers = [*decode_headers(row.headers), replay_header(row)]
            try:
                producer.produce(
                    row.topic,
                    None if row.payload is None else bytes(row.payload),
                    key=None if row.key is None else bytes(row.key),
                    headers=headers,
                )
            except Exception as exc:  # ProduceError, or the client failing to connect
                outcome.failed.append((row, str(exc)))
            else:
                outcome.replayed.append(row)
    finally:
        if own_producer:
            producer.close()
    if outcome.replayed:
        type(outcome.replayed[0]).objects.filter(pk__in=[r.pk for r in outcome.replayed]).update(
            replayed_at=timezone.now(), replay_count=F("replay_count") + 1
        )
    return outcome
