"""What the dashboards show, read from the mirrored models (the broker is asked elsewhere).

Throughput comes from the per-minute rollups (:class:`~..models.ThroughputMinute`, summed over
the reporters of every process); delivery counts from the archived and dead-lettered records;
leases, processes and recent records from their mirrored rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from ..mirroring.rollups import COLUMNS
from ..models import ArchivedRecord, ConsumerProcess, DeadLetter, Lease, ThroughputMinute

#: ``?window=`` choices: name → minutes.
WINDOWS = {"15m": 15, "1h": 60, "6h": 6 * 60, "24h": 24 * 60, "7d": 7 * 24 * 60}
DEFAULT_WINDOW = "1h"
#: Most points a throughput chart gets; longer windows add minutes up into wider buckets.
MAX_POINTS = 120
#: Shortest ``?refresh=`` in seconds (anything below is raised to it).
MIN_REFRESH = 5
RECENT = 10


def parse_window(value: str | None) -> tuple[str, int]:
    key = value if value in WINDOWS else DEFAULT_WINDOW
    return key, WINDOWS[key]


def parse_refresh(value: str | None) -> int | None:
    """Seconds between reloads from ``?refresh=``; None (no reloading) for anything else."""
    try:
        seconds = int(value or "")
    except ValueError:
        return None
    return max(seconds, MIN_REFRESH) if seconds > 0 else None


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Throughput:
    """Outcome counts per bucket of ``bucket_minutes``, oldest first, and their totals."""

    starts: list[datetime]
    bucket_minutes: int
    columns: dict[str, list[int]]

    @property
    def totals(self) -> dict[str, int]:
        return {column: sum(values) for column, values in self.columns.items()}

    @property
    def labels(self) -> list[str]:
        return [timezone.localtime(start).strftime("%H:%M") for start in self.starts]

    def rows(self) -> list[dict[str, Any]]:
        """Buckets with counts, newest first, for the table next to the chart."""
        rows = [
            {"start": start, **{c: self.columns[c][i] for c in COLUMNS}}
            for i, start in enumerate(self.starts)
        ]
        return [row for row in reversed(rows) if any(row[c] for c in COLUMNS)]


def throughput(minutes: int, share_group: str | None = None, now=None) -> Throughput:
    """The last ``minutes`` minutes (the current one included) of one group or all groups."""
    bucket = max(1, -(-minutes // MAX_POINTS))
    buckets = -(-minutes // bucket)
    end = minute_floor(now or timezone.now()) + timedelta(minutes=1)
    first = end - timedelta(minutes=buckets * bucket)
    starts = [first + timedelta(minutes=i * bucket) for i in range(buckets)]
    rows = ThroughputMinute.objects.filter(minute__gte=first, minute__lt=end)
    if share_group is not None:
        rows = rows.filter(share_group=share_group)
    columns = {column: [0] * buckets for column in COLUMNS}
    sums = rows.values("minute").annotate(**{c: Sum(c) for c in COLUMNS}).order_by()
    for row in sums:
        index = int((row["minute"] - first).total_seconds() // 60) // bucket
        for column in COLUMNS:
            columns[column][index] += row[column] or 0
    return Throughput(starts, bucket, columns)


def totals_by_group(minutes: int, now=None) -> dict[str, dict[str, int]]:
    """Each share group's outcome totals over the last ``minutes`` minutes."""
    since = minute_floor(now or timezone.now()) - timedelta(minutes=minutes - 1)
    sums = (
        ThroughputMinute.objects.filter(minute__gte=since)
        .values("share_group")
        .annotate(**{c: Sum(c) for c in COLUMNS})
        .order_by()
    )
    return {row["share_group"]: {c: row[c] or 0 for c in COLUMNS} for row in sums}


def delivery_counts(share_group: str, since: datetime) -> list[dict[str, int]]:
    """Final delivery counts of the group's archived and dead-lettered records since
    ``since``: ``[{"delivery_count", "archived", "dead_lettered"}]`` by delivery count."""
    found: dict[int, Counter[str]] = {}
    for column, queryset in (
        ("archived", ArchivedRecord.objects.filter(archived_at__gte=since)),
        ("dead_lettered", DeadLetter.objects.filter(dead_lettered_at__gte=since)),
    ):
        counts = (
            queryset.filter(share_group=share_group)
            .values("delivery_count")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in counts:
            found.setdefault(row["delivery_count"], Counter())[column] += row["n"]
    return [
        {"delivery_count": count, "archived": c["archived"], "dead_lettered": c["dead_lettered"]}
        for count, c in sorted(found.items())
    ]


@dataclass(frozen=True)
class LeaseRow:
    lease: Lease
    age: float
    lock: float | None

    @property
    def used(self) -> int | None:
        """Percent of the acquisition lock used up (over 100: it ran out)."""
        return None if not self.lock else round(100 * self.age / self.lock)


def leases(share_group: str, now=None, limit: int = 50) -> tuple[int, list[LeaseRow]]:
    """How many leases the group holds, and the oldest ``limit`` of them with their age."""
    now = now or timezone.now()
    queryset = Lease.objects.filter(share_group=share_group)
    rows = [
        LeaseRow(
            lease,
            (now - lease.acquired_at).total_seconds(),
            None
            if lease.lock_deadline is None
            else (lease.lock_deadline - lease.acquired_at).total_seconds(),
        )
        for lease in queryset.order_by("acquired_at")[:limit]
    ]
    return queryset.count(), rows


def processes(share_group: str | None = None, limit: int = 50) -> list[ConsumerProcess]:
    """The newest processes (running ones first), those of ``share_group`` when given."""
    queryset = ConsumerProcess.objects.order_by("status", "-last_heartbeat")
    if share_group is not None:
        # share_groups is a JSON list; "contains" is not available on SQLite.
        queryset = queryset.filter(share_groups__icontains=f'"{share_group}"')
        return [p for p in queryset[: limit * 2] if share_group in p.share_groups][:limit]
    return list(queryset[:limit])


def recent_archived(share_group: str) -> list[ArchivedRecord]:
    return list(ArchivedRecord.objects.filter(share_group=share_group)[:RECENT])


def recent_dead_letters(share_group: str) -> list[DeadLetter]:
    return list(DeadLetter.objects.filter(share_group=share_group).defer("payload", "key")[:RECENT])
