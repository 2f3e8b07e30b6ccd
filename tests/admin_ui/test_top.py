"""``manage.py sharegroups top`` on a real Kafka 4.4 broker, and its rates between frames."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_sharegroups.admin_tools.top import Frame, rows
from django_sharegroups.models import ArchivedRecord, Lease

from ..helpers import numbered, produce
from .conftest import RECORDS


def top(*args: str) -> str:
    out = StringIO()
    call_command("sharegroups", "top", "--once", "--interval", "0.2", *args, stdout=out)
    return out.getvalue()


@pytest.mark.kafka
@pytest.mark.django_db
def test_once_shows_spso_lag_in_flight_and_archived_per_partition(
    kafka_settings, consumed_group, kafka_bootstrap_servers
) -> None:
    group = consumed_group
    produce(
        kafka_bootstrap_servers, group.topic, numbered(4), spread=2
    )  # 2 more on each partition: lag 2
    now = timezone.now()
    for offset in (0, 2):
        ArchivedRecord.objects.create(
            share_group=group.name, topic=group.topic, partition=1, offset=offset,
            delivery_count=5, reason="delivery_limit", archived_at=now,
        )  # fmt: skip
    Lease.objects.create(
        share_group=group.name, topic=group.topic, partition=0, offset=RECORDS // 2,
        delivery_count=1, acquired_at=now, consumer_thread="t",
    )  # fmt: skip

    data = json.loads(top(group.name, "--json"))["partitions"]
    text = top(group.name)

    per_partition = RECORDS // 2
    assert [
        (r["partition"], r["log_end_offset"], r["lag"], r["in_flight"], r["archived"]) for r in data
    ] == [
        (0, per_partition + 2, 2, 1, 0),
        (1, per_partition + 2, 2, 0, 2),
    ]
    # the broker may report the SPSO behind the acknowledgements for a while
    assert all(0 <= r["spso"] <= per_partition for r in data)
    assert [r["produced_per_second"] for r in data] == ["0.0", "0.0"]
    assert all(float(r["settled_per_second"]) >= 0 for r in data)  # the SPSO may catch up
    header, *lines = text.split("\n\n")[1].splitlines()
    assert header.split()[:4] == ["SHARE", "GROUP", "TOPIC", "PARTITION"]
    cells = lines[1].split()
    del cells[6], cells[3]  # spso and settled/s, see above
    assert cells == [group.name, group.topic, "1", str(per_partition + 2), "2", "0.0", "0", "2"]


def test_rates_are_offset_advances_per_second_between_frames() -> None:
    key = ("g", "t", 0)
    before = Frame(at=10.0, offsets={key: (100, 150, 50)})
    after = Frame(at=12.0, offsets={key: (160, 170, 10)}, in_flight={key: 3})
    (row,) = rows(after, before)
    assert (row["settled_per_second"], row["produced_per_second"]) == ("30.0", "10.0")
    assert row["in_flight"] == 3
    (first,) = rows(before)
    assert first["settled_per_second"] is None


def test_a_non_positive_interval_is_refused(kafka_settings) -> None:
    with pytest.raises(CommandError, match="--interval must be more than 0"):
        call_command("sharegroups", "top", "--once", "--interval", "0", stdout=StringIO())
