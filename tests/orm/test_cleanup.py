"""``manage.py sharegroups_cleanup``: rows past their retention go, the others stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_sharegroups.models import (
    ArchivedRecord,
    ConsumerProcess,
    DeadLetter,
    Lease,
    ProcessedRecord,
    ThroughputMinute,
)

from .factories import (
    ArchivedRecordFactory,
    ConsumerProcessFactory,
    DeadLetterFactory,
    LeaseFactory,
    ProcessedRecordFactory,
)

pytestmark = pytest.mark.django_db


def ago(**delta):
    return timezone.now() - timedelta(**delta)


@pytest.fixture
def aged_rows():
    """One row past its retention and one within it, per model."""
    ProcessedRecordFactory(processed_at=ago(days=8))  # default retention: 7 days
    ProcessedRecordFactory(processed_at=ago(days=6))
    DeadLetterFactory(dead_lettered_at=ago(days=31))  # MIRROR["retention"]: 30 days
    DeadLetterFactory(dead_lettered_at=ago(days=29))
    ArchivedRecordFactory(archived_at=ago(days=31))
    ArchivedRecordFactory(archived_at=ago(days=29))
    LeaseFactory(process=ConsumerProcessFactory(stale=True))  # stale after 30 s
    LeaseFactory(process=ConsumerProcessFactory())
    ConsumerProcessFactory(last_heartbeat=ago(days=31), status="stopped")
    for minute in (ago(days=8), ago(days=6)):  # MIRROR["rollup_retention"]: 7 days
        ThroughputMinute.objects.create(share_group="g", minute=minute, reporter="r", accepted=1)


def run(*args) -> str:
    out = StringIO()
    call_command("sharegroups_cleanup", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (ProcessedRecord, DeadLetter, ArchivedRecord, Lease, ConsumerProcess, ThroughputMinute)
    return {model.__name__: model.objects.count() for model in models}


def test_cleanup_deletes_what_is_past_its_retention(aged_rows):
    assert counts() == {
        "ProcessedRecord": 2,
        "DeadLetter": 2,
        "ArchivedRecord": 2,
        "Lease": 2,
        "ConsumerProcess": 3,
        "ThroughputMinute": 2,
    }
    output = run()
    assert counts() == {
        "ProcessedRecord": 1,
        "DeadLetter": 1,
        "ArchivedRecord": 1,
        "Lease": 1,
        "ConsumerProcess": 2,  # the stale process stays (its heartbeat is an hour old)
        "ThroughputMinute": 1,
    }
    assert "Deleted 1 ProcessedRecord row(s)" in output
    assert "Deleted 1 Lease row(s)" in output
    assert "Deleted 1 ConsumerProcess row(s)" in output
    assert "Deleted 1 ThroughputMinute row(s)" in output
    assert ProcessedRecord.objects.get().processed_at > ago(days=7)
    assert ThroughputMinute.objects.get().minute > ago(days=7)


def test_dry_run_only_counts(aged_rows):
    before = counts()
    output = run("--dry-run")
    assert counts() == before
    assert "Would delete 1 DeadLetter row(s)" in output


def test_older_than_overrides_every_retention(aged_rows):
    run("--older-than", str(24 * 3600))
    assert counts()["ProcessedRecord"] == 0
    assert counts()["DeadLetter"] == 0
    assert counts()["ThroughputMinute"] == 0


@override_settings(SHAREGROUPS={"MIRROR": {"rollup_retention": 9 * 24 * 3600}})
def test_the_rollup_retention_setting_counts(aged_rows):
    run()
    assert counts()["ThroughputMinute"] == 2  # 8 days old is within 9 days


@override_settings(SHAREGROUPS={"PROCESSED_RECORD_RETENTION": 5 * 24 * 3600})
def test_the_retention_setting_counts(aged_rows):
    kept = ProcessedRecordFactory(processed_at=ago(days=4, hours=23))
    run()
    assert list(ProcessedRecord.objects.values_list("pk", flat=True)) == [kept.pk]  # not 6 days


@override_settings(SHAREGROUPS={"MIRROR": {"retention": -1}})
def test_bad_settings_are_a_command_error():
    with pytest.raises(CommandError, match="retention"):
        run()
