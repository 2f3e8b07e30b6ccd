"""What people type (reset targets, config changes) and what the terminal shows, without Kafka."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from django_sharegroups.admin_tools.cli import terminal_confirmation
from django_sharegroups.admin_tools.overview import format_assignment, format_host, total_lag
from django_sharegroups.admin_tools.tables import render_fields, render_table
from django_sharegroups.admin_tools.targets import (
    parse_config_changes,
    parse_reset_target,
    parse_topics,
    target_data,
)
from django_sharegroups.kafka import SharePartitionOffsets, TopicPartition


def test_named_targets_pass_through() -> None:
    assert parse_reset_target("earliest") == "earliest"
    assert parse_reset_target(" latest ") == "latest"


def test_an_iso_datetime_with_an_offset_keeps_it() -> None:
    moment = parse_reset_target("2026-05-01T12:00:00+02:00")
    assert moment == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def test_a_naive_datetime_is_in_djangos_time_zone(settings) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    with timezone.override("Europe/Berlin"):
        moment = parse_reset_target("2026-01-15T12:00")
    assert moment.utcoffset() == timedelta(hours=1)
    assert moment.astimezone(UTC).hour == 11


def test_explicit_offsets_allow_dots_and_colons_in_topic_names() -> None:
    target = parse_reset_target("orders.v1:0=42, ns:orders:1=7")
    assert target == {TopicPartition("orders.v1", 0): 42, TopicPartition("ns:orders", 1): 7}
    assert target_data(target) == {"ns:orders:1": 7, "orders.v1:0": 42}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow", "cannot reset to 'tomorrow'"),
        ("orders=4", "is not topic:partition=offset"),
        ("orders:x=4", "whole numbers"),
        ("orders:0=-1", "must not be negative"),
        ("orders:0=1,orders:0=2", "given twice"),
        (",=", "is not topic:partition=offset"),
    ],
)
def test_bad_targets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reset_target(text)


def test_config_changes_set_and_unset() -> None:
    changes = parse_config_changes(
        ["share.delivery.count.limit=3", "errors.deadletterqueue.topic.name = orders.dlq"],
        ["share.auto.offset.reset"],
    )
    assert changes == {
        "share.delivery.count.limit": "3",
        "errors.deadletterqueue.topic.name": "orders.dlq",
        "share.auto.offset.reset": None,
    }


@pytest.mark.parametrize(
    ("assignments", "removals", "message"),
    [
        (["share.delivery.count.limit"], [], "is not name=value"),
        (["=3"], [], "is not name=value"),
        (["a=1", "a=2"], [], "set twice"),
        (["a=1"], ["a"], "both set and unset"),
    ],
)
def test_bad_config_changes(assignments, removals, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config_changes(assignments, removals)


def test_topics_from_text_or_repeated_options() -> None:
    assert parse_topics(None) is None
    assert parse_topics(" ") is None
    assert parse_topics("b, a,,a") == ["a", "b"]
    assert parse_topics(["b", "a,c"]) == ["a", "b", "c"]


def test_member_hosts_lose_javas_slash() -> None:
    assert format_host("/127.0.0.1") == "127.0.0.1"
    assert format_host("worker-1/10.0.0.5") == "worker-1 (10.0.0.5)"
    assert format_host("worker-1") == "worker-1"


def test_assignment_and_lag() -> None:
    assert format_assignment({"b": (1,), "a": (0, 1)}) == "a: 0, 1; b: 1"
    offsets = [
        SharePartitionOffsets("t", 0, 0, 10, 4),
        SharePartitionOffsets("t", 1, None, 10, None),
    ]
    assert total_lag(offsets) == 4
    assert total_lag([]) is None


def test_tables_align_columns_and_mark_missing_values() -> None:
    table = render_table(["topic", "lag"], [("orders", 5), ("o", None)])
    assert table.splitlines() == ["TOPIC   LAG", "orders  5", "o       -"]
    assert render_fields([("State", "Empty"), ("Total lag", 0)]).splitlines() == [
        "State      Empty",
        "Total lag  0",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "expected"), [("y\n", True), ("yes\n", True), ("\n", False)])
def test_a_terminal_is_asked(answer: str, expected: bool) -> None:
    out = io.StringIO()
    confirm = terminal_confirmation(Terminal(answer), out, interactive=True)
    assert confirm("the plan", "Go?") is expected
    assert out.getvalue() == "the plan\n\nGo? [y/N] "


def test_pipes_and_no_input_are_never_asked() -> None:
    out = io.StringIO()
    assert terminal_confirmation(io.StringIO("n\n"), out, interactive=True)("plan", "Go?")
    assert terminal_confirmation(Terminal("n\n"), out, interactive=False)("plan", "Go?")
    assert out.getvalue() == ""
