"""``manage.py sharegroups`` against a real Kafka 4.4 broker, with real share consumers."""

from __future__ import annotations

import getpass
import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from django_sharegroups.admin_tools import cli
from django_sharegroups.kafka import ShareGroupAdmin
from django_sharegroups.models import ShareGroupAuditEntry

from .helpers import CLIENT_ID, total_lag, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def sharegroups(*args: str) -> str:
    out = StringIO()
    call_command("sharegroups", *args, stdout=out)
    return out.getvalue()


def sharegroups_json(*args: str):
    return json.loads(sharegroups(*args, "--json"))


def spso(broker_admin, group: str) -> dict[tuple[str, int], int | None]:
    return {(e.topic, e.partition): e.start_offset for e in broker_admin.share_group_offsets(group)}


def test_list_finds_a_group_with_a_running_consumer(
    kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        listed = {row["group_id"]: row for row in sharegroups_json("list")}
        text = sharegroups("list")

    assert listed[group.name]["state"] == "Stable"
    assert listed[group.name]["members"] == 1
    line = next(line for line in text.splitlines() if line.startswith(group.name))
    assert line.split()[1:3] == ["Stable", "1"]
    assert text.splitlines()[0].split()[:4] == ["SHARE", "GROUP", "STATE", "MEMBERS"]


def test_describe_shows_the_member_its_host_and_assignment(
    kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        data = sharegroups_json("describe", group.name)
        text = sharegroups("describe", group.name)

    assert data["group_id"] == group.name
    assert data["state"] == "Stable"
    (member,) = data["members"]
    assert member["client_id"] == CLIENT_ID
    assert member["client_host"].startswith("/")  # as Kafka reports it...
    assert member["host"] == member["client_host"].lstrip("/")  # ...and as people read it
    assert member["assignment"] == {group.topic: [0, 1]}
    assert [p["partition"] for p in data["partitions"]] == [0, 1]
    assert f"{group.topic}: 0, 1" in text
    assert CLIENT_ID in text
    assert f" {member['host']} " in text and "/127" not in text
    assert "Total lag" in text


def test_offsets_show_lag_that_drops_to_zero(
    kafka_settings, consumed_group, kafka_bootstrap_servers, broker_admin
) -> None:
    data = sharegroups_json("offsets", consumed_group.name)
    assert data["total_lag"] == 0
    assert [(p["partition"], p["log_end_offset"], p["lag"]) for p in data["partitions"]] == [
        (0, 3, 0),
        (1, 3, 0),
    ]
    text = sharegroups("offsets", consumed_group.name)
    assert text.splitlines()[0].split() == ["TOPIC", "PARTITION", "SPSO", "LOG", "END", "LAG"]
    assert text.rstrip().endswith("Total lag: 0")


def test_reset_dry_run_changes_nothing_and_is_not_audited(
    kafka_settings, consumed_group, broker_admin
) -> None:
    before = spso(broker_admin, consumed_group.name)
    data = sharegroups_json("reset-offsets", consumed_group.name, "--to", "latest", "--dry-run")

    assert data["dry_run"] is True
    assert [(p["partition"], p["after"]) for p in data["partitions"]] == [(0, 3), (1, 3)]
    assert spso(broker_admin, consumed_group.name) == before
    assert total_lag(broker_admin, consumed_group.name) == 0
    assert not ShareGroupAuditEntry.objects.exists()
    text = sharegroups("reset-offsets", consumed_group.name, "--to", "latest", "--dry-run")
    assert text.startswith("Dry run, no offsets changed.")

    # The SPSO alone may not move visibly; the plan says how many records come back.
    earliest = sharegroups_json(
        "reset-offsets", consumed_group.name, "--to", "earliest", "--dry-run"
    )
    assert [
        (p["log_end_offset"], p["lag_before"], p["lag_after"]) for p in earliest["partitions"]
    ] == [
        (3, 0, 3),
        (3, 0, 3),
    ]
    text = sharegroups("reset-offsets", consumed_group.name, "--to", "earliest", "--dry-run")
    assert "LAG BEFORE  LAG AFTER" in text
    assert not ShareGroupAuditEntry.objects.exists()


def test_reset_to_earliest_redelivers_and_is_audited(
    kafka_settings, consumed_group, broker_admin
) -> None:
    text = sharegroups("reset-offsets", consumed_group.name, "--to", "earliest")

    assert "Reset the offsets of share group" in text
    assert spso(broker_admin, consumed_group.name) == {
        (consumed_group.topic, 0): 0,
        (consumed_group.topic, 1): 0,
    }
    wait_for(lambda: total_lag(broker_admin, consumed_group.name) == consumed_group.records)
    entry = ShareGroupAuditEntry.objects.get()
    assert entry.action == "reset_offsets"
    assert entry.outcome == "succeeded"
    assert entry.source == "cli"
    assert entry.actor == getpass.getuser()
    assert entry.user is None
    assert entry.share_group == consumed_group.name
    assert entry.parameters["to"] == "earliest"
    assert entry.parameters["requested"] == {
        f"{consumed_group.topic}:0": 0,
        f"{consumed_group.topic}:1": 0,
    }
    assert [p["lag"] for p in entry.before] == [0, 0]
    assert [p["start_offset"] for p in entry.after] == [0, 0]


def test_answering_no_changes_nothing(kafka_settings, consumed_group, broker_admin) -> None:
    before = spso(broker_admin, consumed_group.name)
    options = {"subcommand": "reset-offsets", "name": consumed_group.name, "to": "latest"}
    with ShareGroupAdmin(settings.SHAREGROUPS["KAFKA"]) as admin:
        with pytest.raises(cli.Cancelled, match="no offsets changed"):
            cli.run(admin, options, confirm=lambda plan, question: False)
        delete = {"subcommand": "delete", "name": consumed_group.name}
        with pytest.raises(cli.Cancelled):
            cli.run(admin, delete, confirm=lambda plan, question: False)
    assert spso(broker_admin, consumed_group.name) == before
    assert consumed_group.name in {g.group_id for g in broker_admin.list_share_groups()}
    assert not ShareGroupAuditEntry.objects.exists()


def test_reset_to_explicit_offsets_and_to_a_datetime(
    kafka_settings, consumed_group, broker_admin
) -> None:
    topic = consumed_group.topic
    sharegroups("reset-offsets", consumed_group.name, "--to", f"{topic}:1=2", "--no-input")
    assert spso(broker_admin, consumed_group.name)[(topic, 1)] == 2

    data = sharegroups_json("reset-offsets", consumed_group.name, "--to", "2000-01-01T00:00Z")
    assert [p["after"] for p in data["partitions"]] == [0, 0]
    assert ShareGroupAuditEntry.objects.filter(outcome="succeeded").count() == 2


def test_reset_while_a_member_is_active_is_refused_with_the_brokers_reason(
    kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        with pytest.raises(CommandError, match="NON_EMPTY_GROUP") as refused:
            sharegroups("reset-offsets", group.name, "--to", "earliest")
        assert "stop its consumers" in str(refused.value)
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("sharegroups", "delete", group.name, "--json", stdout=out)

    error = json.loads(out.getvalue())
    assert error["error"] == "NON_EMPTY_GROUP"
    assert error["from_broker"] is True
    entries = list(ShareGroupAuditEntry.objects.order_by("created_at"))
    assert [(e.action, e.outcome, e.error_name) for e in entries] == [
        ("reset_offsets", "failed", "NON_EMPTY_GROUP"),
        ("delete_group", "failed", "NON_EMPTY_GROUP"),
    ]
    assert entries[0].error_message  # the broker's own words
    assert entries[0].after is None


def test_config_show_set_unset_and_dry_run(kafka_settings, consumed_group, broker_admin) -> None:
    name = consumed_group.name
    shown = sharegroups_json("config", name)["configs"]
    assert shown["share.auto.offset.reset"] == {
        "value": "earliest",
        "source": "GROUP_CONFIG",
        "is_default": False,
        "read_only": False,
        "sensitive": False,
    }
    assert all(key.startswith(("share.", "errors.")) for key in shown)
    assert "consumer.session.timeout.ms" in sharegroups_json("config", name, "--all")["configs"]

    checked = sharegroups_json("config", name, "--set", "share.delivery.count.limit=3", "--dry-run")
    assert checked["dry_run"] is True
    assert broker_admin.describe_share_group_config(name)["share.delivery.count.limit"].is_default
    assert not ShareGroupAuditEntry.objects.exists()

    text = sharegroups(
        "config",
        name,
        "--set",
        "share.delivery.count.limit=3",
        "--set",
        "share.record.lock.duration.ms=20000",
    )
    assert "share.delivery.count.limit" in text and "GROUP_CONFIG" in text
    configs = broker_admin.describe_share_group_config(name)
    assert configs["share.delivery.count.limit"].value == "3"
    assert configs["share.record.lock.duration.ms"].value == "20000"

    sharegroups("config", name, "--unset", "share.delivery.count.limit")
    assert broker_admin.describe_share_group_config(name)["share.delivery.count.limit"].is_default

    set_entry, unset_entry = ShareGroupAuditEntry.objects.order_by("created_at")
    assert set_entry.action == unset_entry.action == "alter_config"
    assert set_entry.parameters == {
        "set": {"share.delivery.count.limit": "3", "share.record.lock.duration.ms": "20000"},
        "unset": [],
    }
    assert set_entry.before["share.delivery.count.limit"]["source"] == "DEFAULT_CONFIG"
    assert set_entry.after["share.delivery.count.limit"] == {
        "value": "3",
        "source": "GROUP_CONFIG",
    }
    assert unset_entry.parameters == {"set": {}, "unset": ["share.delivery.count.limit"]}
    assert unset_entry.after["share.delivery.count.limit"]["source"] == "DEFAULT_CONFIG"


def test_a_config_the_broker_rejects(kafka_settings, consumed_group) -> None:
    with pytest.raises(CommandError, match="INVALID_CONFIG"):
        sharegroups("config", consumed_group.name, "--set", "share.no.such.setting=1")
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.outcome, entry.error_name) == ("failed", "INVALID_CONFIG")


def test_delete_removes_the_group_and_is_audited(
    kafka_settings, consumed_group, broker_admin
) -> None:
    data = sharegroups_json("delete", consumed_group.name)
    assert data == {"group_id": consumed_group.name, "deleted": True}
    listed = {listing.group_id for listing in broker_admin.list_share_groups()}
    assert consumed_group.name not in listed
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.action, entry.outcome) == ("delete_group", "succeeded")
    assert [p["partition"] for p in entry.before] == [0, 1]


def test_unknown_groups_and_bad_input_are_clear_errors(kafka_settings) -> None:
    with pytest.raises(CommandError, match="GROUP_ID_NOT_FOUND"):
        sharegroups("describe", "adminui-no-such-group")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sharegroups", "offsets", "adminui-no-such-group", "--json", stdout=out)
    assert json.loads(out.getvalue())["error"] == "GROUP_ID_NOT_FOUND"
    with pytest.raises(CommandError, match="cannot reset to 'soon'"):
        sharegroups("reset-offsets", "adminui-no-such-group", "--to", "soon")
    with pytest.raises(CommandError, match="is not name=value"):
        sharegroups("config", "adminui-no-such-group", "--set", "share.delivery.count.limit")
    assert not ShareGroupAuditEntry.objects.exists()


def test_without_kafka_the_command_says_how_to_configure_it(no_kafka_settings) -> None:
    with pytest.raises(CommandError, match="KAFKA_BOOTSTRAP_SERVERS"):
        sharegroups("list")
