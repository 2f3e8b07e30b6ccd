"""``manage.py sharegroups top``: a table of share groups and partitions, refreshed in place.

SPSO, log end offset and lag come from the broker (one offsets call per group per frame);
in-flight leases and archived records from the mirrored models (as recent as the mirroring
reporter's last write; ``-`` where the tables are not migrated). Rates are the advance of the
SPSO (settled) and of the log end offset (produced) per second between two frames.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import DatabaseError
from django.db.models import Count

from ..kafka import ShareGroupAdmin
from ..models import ArchivedRecord, Lease
from .tables import render_table

Partition = tuple[str, str, int]
HEADERS = [
    "share group",
    "topic",
    "partition",
    "spso",
    "log end",
    "lag",
    "settled/s",
    "produced/s",
    "in flight",
    "archived",
]


@dataclass
class Frame:
    """One refresh: offsets per (group, topic, partition) and when they were read."""

    at: float
    offsets: dict[Partition, tuple[int | None, int | None, int | None]] = field(
        default_factory=dict
    )
    #: None when the mirrored tables are not there (shown as ``-``).
    in_flight: dict[Partition, int] | None = field(default_factory=dict)
    archived: dict[Partition, int] | None = field(default_factory=dict)


def _counts(model, groups: list[str]) -> dict[Partition, int] | None:
    """Rows per partition, or None without the mirrored tables (not migrated)."""
    query = (
        model.objects.filter(share_group__in=groups)
        .values_list("share_group", "topic", "partition")
        .annotate(n=Count("pk"))
        .order_by()
    )
    try:
        return {(g, t, p): n for g, t, p, n in query}
    except DatabaseError:
        return None


def read_frame(admin: ShareGroupAdmin, names: Iterable[str] = ()) -> Frame:
    """The named groups, or every share group of the cluster."""
    groups = list(names) or sorted(g.group_id for g in admin.list_share_groups())
    frame = Frame(at=time.monotonic())
    for group in groups:
        for entry in admin.share_group_offsets(group):
            frame.offsets[(group, entry.topic, entry.partition)] = (
                entry.start_offset,
                entry.log_end_offset,
                entry.lag,
            )
    frame.in_flight = _counts(Lease, groups)
    frame.archived = _counts(ArchivedRecord, groups)
    return frame


def _rate(now: int | None, before: int | None, seconds: float) -> str | None:
    if now is None or before is None or seconds <= 0:
        return None
    return f"{(now - before) / seconds:.1f}"


def rows(frame: Frame, previous: Frame | None = None) -> list[dict]:
    """One dict per partition, with rates when there is a previous frame."""
    result = []
    seconds = frame.at - previous.at if previous else 0.0
    for key in sorted(frame.offsets):
        group, topic, partition = key
        spso, log_end, lag = frame.offsets[key]
        before = previous.offsets.get(key, (None, None, None)) if previous else (None, None, None)
        result.append(
            {
                "share_group": group,
                "topic": topic,
                "partition": partition,
                "spso": spso,
                "log_end_offset": log_end,
                "lag": lag,
                "settled_per_second": _rate(spso, before[0], seconds),
                "produced_per_second": _rate(log_end, before[1], seconds),
                "in_flight": None if frame.in_flight is None else frame.in_flight.get(key, 0),
                "archived": None if frame.archived is None else frame.archived.get(key, 0),
            }
        )
    return result


def render(frame_rows: list[dict]) -> str:
    if not frame_rows:
        return "No share groups."
    return render_table(HEADERS, [list(row.values()) for row in frame_rows])
