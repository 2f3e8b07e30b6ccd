"""The admin's "Share groups" pages with Django's test client, against a real Kafka broker."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_sharegroups.models import ShareGroupAuditEntry

from .helpers import CLIENT_ID, total_lag, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]


def url(name: str, group: str | None = None) -> str:
    args = [group] if group is not None else []
    return reverse(f"admin:django_sharegroups_sharegroup_{name}", args=args)


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_section_is_on_the_admin_index(admin_client, kafka_settings) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Share groups" in page
    assert url("changelist") in page
    assert "Share-group audit log" in page


def test_the_list_comes_from_the_broker(
    admin_client, kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        response = admin_client.get(url("changelist"), {"q": group.name})

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r["summary"].group_id, r["summary"].state, r["summary"].members) for r in rows] == [
        (group.name, "Stable", 1)
    ]
    assert url("detail", group.name) in response.content.decode()


def test_the_detail_page_shows_members_partitions_lag_and_configs(
    admin_client, kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        response = admin_client.get(url("detail", group.name))

    assert response.status_code == 200
    page = response.content.decode()
    overview = response.context["overview"]
    assert overview.description.state == "Stable"
    (member,) = response.context["members"]
    assert member["member"].client_id == CLIENT_ID
    assert member["host"] == "127.0.0.1"
    assert member["assignment"] == f"{group.topic}: 0, 1"
    assert [(e.partition, e.log_end_offset) for e in overview.offsets] == [(0, 3), (1, 3)]
    assert overview.configs["share.auto.offset.reset"].value == "earliest"
    for expected in (CLIENT_ID, "127.0.0.1", "Start offset (SPSO)", "Total lag", group.topic):
        assert expected in page
    assert "/127.0.0.1" not in page
    assert 'id="reset-offsets-link"' in page  # a superuser may do everything
    assert response.context["dead_letter_queue"] == {"topic": None, "copy_record": False}
    assert 'id="dead-letter-queue"' in page and "off: archived records are not kept" in page
    related = {link["label"]: link["url"] for link in response.context["related"]}
    assert related["Audit log"].endswith(f"?share_group={group.name}")
    assert related["Leases (records in flight)"].endswith(f"?share_group={group.name}")


def test_group_names_with_slashes_and_underscores_round_trip(admin_client, kafka_settings) -> None:
    assert url("detail", "a/b_c") == "/admin/django_sharegroups/sharegroup/view/a/b_c/"
    response = admin_client.get(url("detail", "adminui/no_such group"))
    assert response.status_code == 302
    assert response["Location"] == url("changelist")
    assert "“adminui/no_such group”" in texts(response)[0]
    assert quote("no_such group") in url("detail", "adminui/no_such group")


def test_reset_preview_changes_nothing_then_confirm_resets_and_audits(
    admin_client, admin_user, kafka_settings, consumed_group, broker_admin
) -> None:
    reset_url = url("reset", consumed_group.name)
    form = admin_client.get(reset_url)
    assert form.status_code == 200
    assert 'id="members-warning"' not in form.content.decode()

    preview = admin_client.post(reset_url, {"to": "earliest", "_preview": "1"})
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert plan.dry_run
    assert [(p.partition, p.after) for p in plan.partitions] == [(0, 0), (1, 0)]
    assert [(r.lag_before, r.lag_after) for r in preview.context["plan_rows"]] == [(0, 3), (0, 3)]
    assert 'id="confirm-reset"' in preview.content.decode()
    assert total_lag(broker_admin, consumed_group.name) == 0
    assert not ShareGroupAuditEntry.objects.exists()

    done = admin_client.post(reset_url, {"to": "earliest", "_confirm": "1"})
    assert done.status_code == 302
    assert done["Location"] == url("detail", consumed_group.name)
    assert "Reset the start offset of 2 partition(s)" in texts(done)[0]
    wait_for(lambda: total_lag(broker_admin, consumed_group.name) == consumed_group.records)
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.action, entry.outcome, entry.source) == ("reset_offsets", "succeeded", "admin")
    assert entry.user == admin_user
    assert entry.actor == admin_user.username
    assert entry.parameters["to"] == "earliest"
    assert [p["start_offset"] for p in entry.after] == [0, 0]


def test_reset_to_explicit_offsets_and_form_errors(
    admin_client, kafka_settings, consumed_group, broker_admin
) -> None:
    reset_url = url("reset", consumed_group.name)
    invalid = admin_client.post(reset_url, {"to": "offsets", "offsets": "nonsense", "_preview": 1})
    assert invalid.status_code == 200
    assert "is not topic:partition=offset" in str(invalid.context["form"].errors)
    missing = admin_client.post(reset_url, {"to": "datetime", "_preview": 1})
    assert "Give the date and time" in str(missing.context["form"].errors)

    target = f"{consumed_group.topic}:0=1"
    preview = admin_client.post(reset_url, {"to": "offsets", "offsets": target, "_preview": 1})
    assert [(p.partition, p.after) for p in preview.context["plan"].partitions] == [(0, 1)]
    admin_client.post(reset_url, {"to": "offsets", "offsets": target, "_confirm": 1})
    offsets = {
        e.partition: e.start_offset for e in broker_admin.share_group_offsets(consumed_group.name)
    }
    assert offsets[0] == 1

    preview = admin_client.post(
        reset_url, {"to": "datetime", "moment": "2000-01-01T00:00", "_preview": 1}
    )
    assert [p.after for p in preview.context["plan"].partitions] == [0, 0]


def test_reset_with_an_active_member_shows_the_brokers_refusal(
    admin_client, kafka_settings, new_group, running_consumer
) -> None:
    group = new_group()
    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        form = admin_client.get(url("reset", group.name))
        refused = admin_client.post(url("reset", group.name), {"to": "earliest", "_confirm": 1})
        delete_refused = admin_client.post(url("delete", group.name))

    assert 'id="members-warning"' in form.content.decode()
    assert refused.status_code == 200
    assert refused.context["error"]["error"] == "NON_EMPTY_GROUP"
    page = refused.content.decode()
    assert "The broker refused: <strong>NON_EMPTY_GROUP</strong>" in page
    assert "stop its consumers" in page
    assert refused.context["error"]["message"] in page.replace("&#x27;", "'")
    assert delete_refused.status_code == 200
    assert "NON_EMPTY_GROUP" in delete_refused.content.decode()
    assert list(
        ShareGroupAuditEntry.objects.order_by("created_at").values_list(
            "action", "outcome", "error_name"
        )
    ) == [
        ("reset_offsets", "failed", "NON_EMPTY_GROUP"),
        ("delete_group", "failed", "NON_EMPTY_GROUP"),
    ]


def test_config_editing_sets_and_restores_defaults(
    admin_client, kafka_settings, consumed_group, broker_admin
) -> None:
    config_url = url("config", consumed_group.name)
    form = admin_client.get(config_url)
    assert form.status_code == 200
    initial = {
        name: field.initial
        for name, field in form.context["form"].fields.items()
        if not name.endswith(":restore")
    }
    assert initial["share.auto.offset.reset"] == "earliest"
    assert "share.auto.offset.reset:restore" in form.context["form"].fields

    unchanged = admin_client.post(config_url, initial)
    assert unchanged.status_code == 302
    assert texts(unchanged) == ["No config changed."]
    assert not ShareGroupAuditEntry.objects.exists()

    changed = admin_client.post(config_url, {**initial, "share.delivery.count.limit": "4"})
    assert changed.status_code == 302
    configs = broker_admin.describe_share_group_config(consumed_group.name)
    assert configs["share.delivery.count.limit"].value == "4"
    assert not configs["share.delivery.count.limit"].is_default

    restore = {
        **initial,
        "share.delivery.count.limit": "4",
        "share.delivery.count.limit:restore": "on",
    }
    admin_client.post(config_url, restore)
    assert broker_admin.describe_share_group_config(consumed_group.name)[
        "share.delivery.count.limit"
    ].is_default

    rejected = admin_client.post(config_url, {**initial, "share.delivery.count.limit": "many"})
    assert rejected.status_code == 200
    assert rejected.context["error"]["error"] == "INVALID_CONFIG"
    assert list(
        ShareGroupAuditEntry.objects.order_by("created_at").values_list("outcome", flat=True)
    ) == [
        "succeeded",
        "succeeded",
        "failed",
    ]


def test_delete_asks_then_deletes(
    admin_client, kafka_settings, consumed_group, broker_admin
) -> None:
    delete_url = url("delete", consumed_group.name)
    confirm = admin_client.get(delete_url)
    assert confirm.status_code == 200
    assert "Are you sure" in confirm.content.decode()
    assert consumed_group.name in {g.group_id for g in broker_admin.list_share_groups()}

    done = admin_client.post(delete_url)
    assert done.status_code == 302
    assert done["Location"] == url("changelist")
    assert consumed_group.name not in {g.group_id for g in broker_admin.list_share_groups()}
    entry = ShareGroupAuditEntry.objects.get()
    assert (entry.action, entry.outcome) == ("delete_group", "succeeded")


def test_without_kafka_the_pages_say_so(admin_client, no_kafka_settings) -> None:
    response = admin_client.get(url("changelist"))
    assert response.status_code == 200
    assert response.context["error"]["error"] == "ConfigurationError"
    assert "KAFKA_BOOTSTRAP_SERVERS" in response.content.decode()
    detail = admin_client.get(url("detail", "anything"))
    assert detail.status_code == 200
    assert 'id="reset-offsets-link"' not in detail.content.decode()
