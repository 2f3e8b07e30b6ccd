"""``manage.py sharegroups`` filters against real Kafka: ``list --state`` and
``reset-offsets --topic`` (which also covers a topic the group has not started on)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.helpers import produce

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def sharegroups_json(*args: str):
    out = StringIO()
    call_command("sharegroups", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def spso(broker_admin, group: str) -> dict[tuple[str, int], int | None]:
    return {(e.topic, e.partition): e.start_offset for e in broker_admin.share_group_offsets(group)}


def test_list_state_keeps_only_groups_in_that_state(
    kafka_settings, consumed_group, new_group, running_consumer
) -> None:
    active = new_group()
    with running_consumer(active) as consumer:
        consumer.wait_for_records(active.records)
        stable = {row["group_id"] for row in sharegroups_json("list", "--state", "Stable")}
        empty = {row["group_id"] for row in sharegroups_json("list", "--state", "Empty")}
        both = sharegroups_json("list", "--state", "Empty", "--state", "Stable")
    assert active.name in stable and consumed_group.name not in stable
    assert consumed_group.name in empty and active.name not in empty
    assert {active.name, consumed_group.name} <= {row["group_id"] for row in both}
    assert {row["state"] for row in both} <= {"Empty", "Stable"}


def test_reset_offsets_topic_moves_only_that_topic_even_one_not_started_yet(
    kafka_settings, consumed_group, kafka_topic, kafka_bootstrap_servers, broker_admin
) -> None:
    other = kafka_topic(partitions=1, prefix="adminui-other")
    produce(kafka_bootstrap_servers, other, [{"n": 0}, {"n": 1}])
    before = {
        (e.topic, e.partition): e.start_offset
        for e in broker_admin.share_group_offsets(consumed_group.name)
    }
    data = sharegroups_json(
        "reset-offsets", consumed_group.name, "--to", "earliest", "--topic", other, "--no-input"
    )
    assert [(p["topic"], p["partition"], p["after"]) for p in data["partitions"]] == [(other, 0, 0)]
    after = spso(broker_admin, consumed_group.name)
    assert after[(other, 0)] == 0  # the group now starts the new topic at its beginning
    assert {k: v for k, v in after.items() if k[0] == consumed_group.topic} == before
