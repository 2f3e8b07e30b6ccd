"""Parse what people type: reset targets and config changes (the CLI and the admin forms)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.utils import timezone

from ..kafka.admin import ResetTarget
from ..kafka.results import TopicPartition

RESET_TARGET_HELP = (
    "earliest, latest, an ISO 8601 datetime (2026-05-01T12:00:00+00:00; without an offset "
    "it is in Django's TIME_ZONE) or explicit offsets topic:partition=offset,..."
)


def parse_reset_target(text: str) -> ResetTarget:
    """``"earliest"``, ``"latest"``, an ISO datetime or ``"orders:0=42,orders:1=40"``."""
    value = text.strip()
    if value == "earliest":
        return "earliest"
    if value == "latest":
        return "latest"
    if "=" in value:
        return {(tp.topic, tp.partition): offset for tp, offset in parse_offsets(value).items()}
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"cannot reset to {text!r}: use {RESET_TARGET_HELP}") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_offsets(text: str) -> dict[TopicPartition, int]:
    """``"orders:0=42, orders:1=40"`` → ``{("orders", 0): 42, ("orders", 1): 40}``.

    Topic names may contain dots and colons, never ``=`` or ``,``; the last ``:`` of an item
    separates the partition.
    """
    offsets: dict[TopicPartition, int] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        location, equals, offset = item.rpartition("=")
        topic, colon, partition = location.rpartition(":")
        if not equals or not colon or not topic.strip():
            raise ValueError(f"{item!r} is not topic:partition=offset")
        try:
            key = TopicPartition(topic.strip(), int(partition))
            value = int(offset)
        except ValueError:
            raise ValueError(f"{item!r}: partition and offset must be whole numbers") from None
        if key.partition < 0 or value < 0:
            raise ValueError(f"{item!r}: partition and offset must not be negative")
        if key in offsets:
            raise ValueError(f"{key.topic}:{key.partition} is given twice")
        offsets[key] = value
    if not offsets:
        raise ValueError("no offsets given: use topic:partition=offset,...")
    return offsets


def parse_topics(text: str | Iterable[str] | None) -> list[str] | None:
    """Comma-separated (or repeated) topic names; ``None`` when none are given."""
    if text is None:
        return None
    items = (
        text.split(",")
        if isinstance(text, str)
        else [part for entry in text for part in entry.split(",")]
    )
    topics = sorted({item.strip() for item in items if item.strip()})
    return topics or None


def parse_config_changes(
    assignments: Iterable[str] = (), removals: Iterable[str] = ()
) -> dict[str, str | None]:
    """``["share.delivery.count.limit=3"]`` and ``["share.auto.offset.reset"]`` →
    ``{"share.delivery.count.limit": "3", "share.auto.offset.reset": None}`` (``None`` restores
    the default). A name both set and unset is a mistake, not a last-one-wins."""
    changes: dict[str, str | None] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValueError(f"{assignment!r} is not name=value")
        if name in changes:
            raise ValueError(f"{name} is set twice")
        changes[name] = value.strip()
    for raw in removals:
        name = raw.strip()
        if not name:
            raise ValueError("--unset needs a config name")
        if name in changes:
            raise ValueError(f"{name} is both set and unset")
        changes[name] = None
    return changes


def target_data(target: ResetTarget) -> str | dict[str, int]:
    """A reset target as JSON-ready data (for the audit log and ``--json``)."""
    if isinstance(target, datetime):
        return target.isoformat()
    if isinstance(target, Mapping):
        return {
            f"{topic}:{partition}": offset for (topic, partition), offset in sorted(target.items())
        }
    return target
