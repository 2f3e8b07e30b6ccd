"""Atomic and idempotent jobs: ``consume`` in a transaction, its ACCEPTs valid only if it commits.

Atomic: the job runs inside ``transaction.atomic()``. The owning thread hands acknowledgements
to the client only after ``execute_job`` has returned, so after the commit. When the transaction
rolls back (``consume`` raised, or the commit failed) the ACCEPTs the job made become RELEASEs
and the records come back; REJECTs stand.

Idempotent (implies atomic): the job's first statement claims its records, one
``ProcessedRecord`` row each (``INSERT … ON CONFLICT DO NOTHING RETURNING``, in coordinate
order). A record whose row exists already was processed by a delivery that committed: it is
ACCEPTed without calling ``consume``. A delivery of the same record still in flight holds its
uncommitted row, so a second delivery's claim waits for it to commit (then skips the record)
or roll back (then processes it): the database effects of a record happen once, and no job is
rolled back for having raced another. Before the commit, the rows of the claimed records the
job did not ACCEPT are deleted, so those records are processed again when they come back. One
claim per job replaces a lookup before the transaction and an insert at its end: a round trip
less per job (issue #12's paced scenario, docs/benchmarks.md).

The claim needs ``ON CONFLICT … RETURNING``: PostgreSQL and SQLite (3.35+); a system check
refuses idempotent routes on other databases. Models are looked up lazily, so the engine core
imports no models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q
from django.utils import timezone

from ..clients.base import AcknowledgeType, ReceivedRecord
from ..consumer import ShareGroupConsumer
from ..messages import Messages
from .acknowledgements import JobAcknowledgements
from .leases import Coordinates

logger = logging.getLogger("django_sharegroups.processing")


#: Databases whose backends can claim rows (``INSERT … ON CONFLICT DO NOTHING RETURNING``).
CLAIMING_VENDORS = ("postgresql", "sqlite")
#: Rows per claiming statement at most (five parameters each; fewer where the backend's
#: ``max_query_params`` says so: Django assumes 999 for SQLite).
CLAIM_CHUNK = 1000


def transaction_mode(consumer: ShareGroupConsumer) -> tuple[bool, bool]:
    """``(atomic, idempotent)`` for the consumer: the topic option wins over the class's.
    Worked out on the consumer's first job and kept (four lookups a job otherwise)."""
    mode = getattr(consumer, "_transaction_mode", None)
    if mode is None:
        idempotent = declared(consumer.topic, consumer, "idempotent")
        mode = (idempotent or declared(consumer.topic, consumer, "atomic"), idempotent)
        consumer._transaction_mode = mode
    return mode


def declared(topic: Any, consumer: Any, name: str) -> bool:
    """``atomic`` or ``idempotent``: the topic's option, else the consumer's (class or
    instance) attribute. The system checks ask it of a route and its consumer class."""
    value = getattr(topic, name, None)
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
    keep = set(acknowledgements.marked())  # the records marked before this call
    try:
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            claimed: set[Coordinates] = set()
            if idempotent:
                messages, claimed = _claim(consumer, messages, acknowledgements, keep)
            if messages:
                consumer.consume(messages)
            if implicit:  # the executor would do it after the commit: too late for the rows
                acknowledgements.mark_all_unacknowledged(AcknowledgeType.ACCEPT)
            if claimed:
                _give_back(consumer.share_group.name, claimed, acknowledgements)
    except BaseException:
        acknowledgements.revoke_accepts(keep=keep)
        raise


def _claim(
    consumer: ShareGroupConsumer,
    messages: Messages,
    acknowledgements: JobAcknowledgements,
    done: set[ReceivedRecord],
) -> tuple[Messages, set[Coordinates]]:
    """Claim the job's records; ACCEPT (and add to ``done``) those processed already.
    Returns the messages to consume and the coordinates claimed."""
    claimed = claim_rows(consumer.share_group.name, [m.coordinates for m in messages])
    if len(claimed) == len(messages):
        return messages, claimed
    fresh = []
    for message in messages:
        if message.coordinates in claimed:
            fresh.append(message)
        else:
            acknowledgements.mark(message, AcknowledgeType.ACCEPT)
            done.add(message.record)
    # DEBUG: with per_message this is a line per record (a restart after kill -9 redelivers
    # every record the dead process held); INFO stays free of per-record lines.
    logger.debug(
        "%s: %d redelivered record(s) already processed; ACCEPTed without consume()",
        consumer.share_group.name,
        len(messages) - len(fresh),
    )
    return messages.only(fresh), claimed


def claim_rows(
    share_group: str, keys: Sequence[Coordinates], now: datetime | None = None
) -> set[Coordinates]:
    """Insert a ProcessedRecord row for each of ``keys`` that has none; the ones inserted.

    Rows go in in coordinate order: two jobs claiming overlapping records wait for each other
    in one direction only, never in a cycle."""
    model = _processed_model()
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = [
        model._meta.get_field(name)
        for name in ("share_group", "topic", "partition", "offset", "processed_at")
    ]
    columns = [quote(field.column) for field in fields]  # type: ignore[union-attr]
    at = fields[4].get_db_prep_value(now or timezone.now(), connection)
    ordered = sorted(set(keys))
    limit = connection.features.max_query_params
    size = min(CLAIM_CHUNK, limit // len(fields)) if limit else CLAIM_CHUNK
    claimed: set[Coordinates] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), size):
            chunk = ordered[start : start + size]
            rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "
                f"VALUES {rows} ON CONFLICT ({', '.join(columns[:4])}) DO NOTHING "
                f"RETURNING {', '.join(columns[1:4])}",
                [value for key in chunk for value in (share_group, *key, at)],
            )
            claimed.update((topic, partition, offset) for topic, partition, offset in cursor)
    return claimed


def _give_back(
    share_group: str, claimed: set[Coordinates], acknowledgements: JobAcknowledgements
) -> None:
    """Delete the rows of claimed records the job did not ACCEPT (released, rejected, left
    open): they have not been processed, and a redelivery must run ``consume`` on them."""
    accepted = {
        record.coordinates
        for record, ack_type in acknowledgements.marked().items()
        if ack_type is AcknowledgeType.ACCEPT
    }
    left = [key for key in claimed if key not in accepted]
    if left:
        _processed_model().objects.using(DEFAULT_DB_ALIAS).filter(
            _where(left), share_group=share_group
        ).delete()


def _where(keys: Sequence[Coordinates]) -> Q:
    by_partition: dict[tuple[str, int], list[int]] = {}
    for topic, partition, offset in keys:
        by_partition.setdefault((topic, partition), []).append(offset)
    condition = Q()
    for (topic, partition), offsets in by_partition.items():
        condition |= Q(topic=topic, partition=partition, offset__in=offsets)
    return condition


def _processed_model() -> type[Any]:
    return apps.get_model("django_sharegroups", "ProcessedRecord")
