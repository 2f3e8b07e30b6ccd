"""Atomic and idempotent jobs: ``consume`` in a transaction, its ACCEPTs valid only if it commits.

Atomic: the job runs inside ``transaction.atomic()``. The owning thread hands acknowledgements
to the client only after ``execute_job`` has returned, so after the commit. When the transaction
rolls back (``consume`` raised, or the commit failed) the ACCEPTs the job made become RELEASEs
and the records come back; REJECTs stand.

Idempotent (implies atomic): a ``ProcessedRecord`` row per ACCEPTed record is written in the
same transaction, and a record that already has one is ACCEPTed without calling ``consume``. A
redelivery (lock expiry, a crash between commit and acknowledgement) thus has no second database
effect. Two deliveries racing past the check collide on the row's unique constraint: the later
commit fails and rolls back; of its records, those the other delivery committed are ACCEPTed,
the rest RELEASEd.

Models are looked up lazily, so the engine core imports no models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..clients.base import AcknowledgeType
from ..consumer import ShareGroupConsumer
from ..exceptions import ShareGroupsError
from ..messages import Message, Messages, build_metadata
from .acknowledgements import JobAcknowledgements

logger = logging.getLogger("django_sharegroups.processing")

Coordinates = tuple[str, int, int]


class ConcurrentDeliveryError(ShareGroupsError):
    """Another delivery of the same record committed first; this job was rolled back."""


def transaction_mode(consumer: ShareGroupConsumer) -> tuple[bool, bool]:
    """``(atomic, idempotent)`` for the consumer: the topic option wins over the class's."""
    idempotent = _option(consumer, "idempotent")
    return idempotent or _option(consumer, "atomic"), idempotent


def _option(consumer: ShareGroupConsumer, name: str) -> bool:
    value = getattr(consumer.topic, name, None)
    if value is None:
        value = getattr(consumer, name, False)
    return bool(value)


def run_consume(
    consumer: ShareGroupConsumer,
    messages: Messages,
    acknowledgements: JobAcknowledgements,
    *,
    implicit: bool = False,
) -> None:
    """Call ``consume(messages)``; in a transaction when the consumer is atomic or idempotent.

    Raises what ``consume`` (or the commit) raised, after turning the ACCEPTs made inside the
    rolled-back transaction into RELEASEs.
    """
    atomic, idempotent = transaction_mode(consumer)
    if not atomic:
        consumer.consume(messages)
        return
    if idempotent:
        messages = _skip_processed(consumer, messages, acknowledgements)
    settled_before = {message.coordinates for message, _ in acknowledgements.items()}
    try:
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            if messages:
                consumer.consume(messages)
            if implicit:  # the executor would do it after the commit: too late for the rows
                acknowledgements.mark_all_unacknowledged(AcknowledgeType.ACCEPT)
            if idempotent:
                _record_processed(consumer, acknowledgements, settled_before)
    except BaseException as exc:
        keep = set(settled_before)
        if isinstance(exc, ConcurrentDeliveryError):
            keep |= _committed_elsewhere(consumer, acknowledgements, settled_before)
        acknowledgements.revoke_accepts(keep=keep)
        raise


def _skip_processed(
    consumer: ShareGroupConsumer, messages: Messages, acknowledgements: JobAcknowledgements
) -> Messages:
    """ACCEPT the messages already processed; return the others (with fresh metadata)."""
    done = processed_coordinates(consumer.share_group.name, messages)
    if not done:
        return messages
    fresh = []
    for message in messages:
        if message.coordinates in done:
            acknowledgements.mark(message, AcknowledgeType.ACCEPT)
        else:
            fresh.append(message)
    # DEBUG: with per_message this is a line per record (a restart after kill -9 redelivers
    # every record the dead process held); INFO stays free of per-record lines.
    logger.debug(
        "%s: %d redelivered record(s) already processed; ACCEPTed without consume()",
        consumer.share_group.name,
        len(done),
    )
    metadata = messages.metadata
    if metadata is not None and fresh:
        metadata = build_metadata(
            fresh, messages.topic, metadata.created_at, metadata.partition is not None
        )
    return Messages(fresh, topic=messages.topic, metadata=metadata)


def processed_coordinates(share_group: str, messages: Iterable[Message]) -> set[Coordinates]:
    """The coordinates among ``messages`` that have a ProcessedRecord row (one query)."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    for message in messages:
        by_partition.setdefault((message.topic, message.partition), []).append(message.offset)
    if not by_partition:
        return set()
    condition = Q()
    for (topic, partition), offsets in by_partition.items():
        condition |= Q(topic=topic, partition=partition, offset__in=offsets)
    rows = (
        _processed_model()
        .objects.using(DEFAULT_DB_ALIAS)
        .filter(condition, share_group=share_group)
        .values_list("topic", "partition", "offset")
    )
    return set(rows)


def _record_processed(
    consumer: ShareGroupConsumer, acknowledgements: JobAcknowledgements, skip: set[Coordinates]
) -> None:
    model = _processed_model()
    now = timezone.now()
    rows = [
        model(
            share_group=consumer.share_group.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            processed_at=now,
        )
        for message, ack_type in acknowledgements.items()
        if ack_type is AcknowledgeType.ACCEPT and message.coordinates not in skip
    ]
    if not rows:
        return
    try:
        model.objects.using(DEFAULT_DB_ALIAS).bulk_create(rows)
    except IntegrityError as exc:
        raise ConcurrentDeliveryError(
            f"{consumer.share_group.name}: a record of this job was processed by another "
            "delivery meanwhile; rolled back, its records are released"
        ) from exc


def _committed_elsewhere(
    consumer: ShareGroupConsumer, acknowledgements: JobAcknowledgements, skip: set[Coordinates]
) -> set[Coordinates]:
    """After a collision: the job's ACCEPTed records another delivery has committed."""
    accepted = [
        message
        for message, ack_type in acknowledgements.items()
        if ack_type is AcknowledgeType.ACCEPT and message.coordinates not in skip
    ]
    try:
        return processed_coordinates(consumer.share_group.name, accepted)
    except Exception:  # cannot tell: RELEASE them all, the next delivery will see the rows
        logger.exception("%s: looking up processed records failed", consumer.share_group.name)
        return set()


def _processed_model() -> type[Any]:
    return apps.get_model("django_sharegroups", "ProcessedRecord")
