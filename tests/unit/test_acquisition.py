"""The acquisition sizer: polls sized by what free workers can finish within the lock."""

from __future__ import annotations

from django_sharegroups.processing.acquisition import (
    HORIZON_SECONDS,
    LOCK_SHARE,
    MAX_RECORDS_PER_POLL,
    MAX_RECORDS_PER_POLL_RENEWING,
    WHOLE_BATCH_RECORDS,
    AcquisitionSizer,
)


def sizer(**options) -> AcquisitionSizer:
    return AcquisitionSizer(
        **{"workers": 4, "max_messages_per_job": 1, "lock_ms": 30_000, "renewing": False, **options}
    )


def test_it_starts_at_one_job_per_free_worker_and_doubles_while_jobs_are_fast():
    acquisition = sizer(max_messages_per_job=5)
    assert acquisition.records_for(4) == 20
    acquisition.job_finished(5, 0.005)  # 1 ms per record: thousands would fit in the lock
    asked = [acquisition.records_for(4) for _ in range(6)]
    assert asked == [40, 80, 160, 320, MAX_RECORDS_PER_POLL, MAX_RECORDS_PER_POLL]


def test_slow_jobs_shrink_the_next_poll_at_once_to_what_fits_in_the_lock():
    acquisition = sizer(lock_ms=1000)  # half of it, 0.5 s, is shorter than the horizon
    acquisition.job_finished(1, 0.001)
    for _ in range(10):
        acquisition.records_for(4)
    acquisition.job_finished(1, 0.1)  # 100 ms per record: 5 per worker fit in 0.5 s
    asked = acquisition.records_for(4)
    assert asked == 4 * int(1 * LOCK_SHARE / 0.1) == 20
    # the records of a poll are finished within the lock share, so each starts in time
    assert asked / 4 * 0.1 <= 1 * LOCK_SHARE


def test_a_long_lock_still_acquires_only_about_a_second_of_work_per_worker():
    """Share groups put many members on the same partitions: a member that took 15 s of
    20 ms jobs (half a 30 s lock) would leave the others idle on a short backlog."""
    acquisition = sizer(workers=1)
    acquisition.job_finished(1, 0.02)
    asked = [acquisition.records_for(1) for _ in range(10)]
    assert asked[-1] == int(HORIZON_SECONDS / 0.02) == 50
    acquisition.job_finished(1, 3.0)  # slower than the horizon: one record per free worker
    assert acquisition.records_for(1) == 1
    assert acquisition.prefetch_for(held=1) == 0


def test_faster_samples_move_the_estimate_gradually_and_slower_ones_at_once():
    acquisition = sizer()
    acquisition.job_finished(1, 1.0)
    acquisition.job_finished(1, 0.0)
    assert 0.5 < acquisition.seconds_per_record < 1.0
    acquisition.job_finished(2, 4.0)
    assert acquisition.seconds_per_record == 2.0


def test_jobs_longer_than_the_lock_still_get_one_record_per_free_worker():
    acquisition = sizer(lock_ms=5000)
    acquisition.job_finished(1, 60.0)
    assert acquisition.records_for(3) == 3
    assert acquisition.records_for(0) == 0


def test_renewing_adapters_may_ask_for_more_per_poll():
    acquisition = sizer(renewing=True)
    acquisition.job_finished(1, 0.0001)
    for _ in range(20):
        asked = acquisition.records_for(4)
    assert asked == MAX_RECORDS_PER_POLL_RENEWING


def test_a_report_is_due_at_first_and_then_only_when_the_allowance_changed_a_lot():
    acquisition = sizer()
    first = acquisition.report_due()
    assert first is not None and first.records == 4 and first.seconds_per_record is None
    acquisition.job_finished(1, 0.001)
    acquisition.records_for(4)  # 8: a factor 2 is not worth a line
    assert acquisition.report_due() is None
    acquisition.records_for(4)  # 16
    report = acquisition.report_due()
    assert report is not None and report.records == 16 and report.lock_ms == 30_000


def test_whole_batches_only_once_the_workers_would_finish_them_well_within_a_poll():
    acquisition = sizer(workers=2)
    assert not acquisition.whole_batches  # nothing measured yet
    # A second of work per worker (the horizon): two workers finish this pace's batches in it.
    fits = 2 * HORIZON_SECONDS / WHOLE_BATCH_RECORDS
    acquisition.job_finished(100, 100 * fits * 0.9)
    assert acquisition.whole_batches
    acquisition.job_finished(1, fits * 1.2)  # one job a bit slower: a moving average
    assert acquisition.whole_batches
    acquisition.job_finished(1, fits * 5)  # much slower: at once
    assert not acquisition.whole_batches
    for _ in range(20):
        acquisition.job_finished(1, fits * 0.5)
    assert acquisition.whole_batches  # fast again
    slow = sizer(workers=32)
    slow.job_finished(1, 0.015)  # 15 ms jobs: never, however many workers
    assert not slow.whole_batches


def test_a_stop_finishes_held_records_only_when_the_workers_do_so_soon_at_the_pace_so_far():
    acquisition = sizer()  # 4 workers
    assert not acquisition.finishes_within(1, 10.0)  # pace unknown: never promise
    acquisition.job_finished(10, 1.0)  # 0.1 s per record and worker
    assert acquisition.finishes_within(80, 2.0)  # 80 × 0.1 s over 4 workers: 2 s
    assert not acquisition.finishes_within(81, 2.0)
