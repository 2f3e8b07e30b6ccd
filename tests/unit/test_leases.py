"""The lease tracker keys leases by delivery (the ``ReceivedRecord``), not by coordinates."""

from __future__ import annotations

from django_sharegroups.clients.base import ReceivedRecord
from django_sharegroups.processing.leases import LeaseTracker


def delivery(offset: int, count: int = 1) -> ReceivedRecord:
    return ReceivedRecord("t", 0, offset, None, b"{}", delivery_count=count)


def test_a_redelivery_while_the_earlier_delivery_is_held_is_a_lease_of_its_own():
    """The broker gave a record whose lock lapsed to us again before its first job settled:
    settling the first delivery must not drop the second one's lease (it still has to be
    renewed, checked for lapse and counted as held)."""
    leases = LeaseTracker("member")
    first = delivery(5)
    leases.acquired([first, delivery(6)], 1_000, 100.0)
    again = delivery(5, count=2)
    leases.acquired([again], 30_000, 102.0)
    assert len(leases) == 3

    leases.settled(first)

    assert leases.holds(again) and not leases.holds(first)
    assert leases.deadline(again) == 132.0
    assert not leases.lapsed(again, 120.0)
    assert sorted((r.offset, r.delivery_count) for r in leases.held_records) == [(5, 2), (6, 1)]


def test_a_renewal_moves_records_to_a_batch_of_their_own_and_settling_empties_it():
    leases = LeaseTracker("member")
    records = [delivery(n) for n in range(4)]
    leases.acquired(records, 1_000, 100.0)
    leases.renewed(records[:2], 5_000, 100.5)
    assert [leases.deadline(r) for r in records] == [105.5, 105.5, 101.0, 101.0]
    oldest = list(leases.oldest_leases())
    assert sorted(lease.offset for lease in oldest) == [0, 1, 2, 3]
    assert [lease.acquired_at for lease in oldest] == [100.0] * 4  # renewed keep theirs
    leases.settled_all(records[2:])
    assert [len(batch.records) for batch in leases.batches()] == [2]
    lease = leases.get(records[0])
    assert lease is not None and lease.coordinates == ("t", 0, 0)
    assert lease.acquired_at == 100.0 and lease.deadline == 105.5 and lease.holder == "member"
    leases.settled_all(records[:2])
    assert leases.batches() == [] and len(leases) == 0 and leases.get(records[0]) is None


def test_a_job_whose_records_span_batches_settles_every_one_of_them():
    """A job of records from two batches (one renewed), and one no longer held."""
    leases = LeaseTracker("member")
    records = [delivery(n) for n in range(4)]
    leases.acquired(records, 1_000, 100.0)
    leases.renewed(records[:1], 5_000, 100.5)
    gone = delivery(9)

    leases.settled_all([records[0], gone, records[1], records[2]])

    assert leases.held_records == [records[3]] and len(leases) == 1
    assert not any(leases.holds(r) for r in records[:3])
