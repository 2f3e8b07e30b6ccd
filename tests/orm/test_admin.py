"""Admin of the mirrored models: changelists, filters, search, replay and purge actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from confluent_kafka import Consumer
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_sharegroups.admin import replay as replay_module
from django_sharegroups.admin.links import share_group_links
from django_sharegroups.admin.replay import REPLAY_HEADER, replay
from django_sharegroups.clients.base import ProduceError, RecordProducer
from django_sharegroups.models import ArchivedRecord, DeadLetter

from .factories import (
    ArchivedRecordFactory,
    ConsumerProcessFactory,
    DeadLetterFactory,
    LeaseFactory,
    ProcessedRecordFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ("consumerprocess", "lease", "deadletter", "archivedrecord", "processedrecord")


def changelist(model: str) -> str:
    return reverse(f"admin:django_sharegroups_{model}_changelist")


@pytest.fixture
def rows():
    """Rows of two share groups in every model, one of them from a dead process."""
    alive = ConsumerProcessFactory(share_groups=["orders"])
    dead = ConsumerProcessFactory(stale=True, share_groups=["emails"])
    for group, process in (("orders", alive), ("emails", dead)):
        LeaseFactory(share_group=group, topic=group, process=process)
        DeadLetterFactory(share_group=group, topic=group)
        ArchivedRecordFactory(share_group=group, topic=group)
        ProcessedRecordFactory(share_group=group, topic=group)
    return alive, dead


@pytest.mark.parametrize("model", MODELS)
def test_changelists_filter_by_share_group_link_and_search(admin_client, rows, model):
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    link = share_group_links("orders")
    url = next(url for url in link.values() if f"/{model}/" in url)
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    query = "host" if model == "consumerprocess" else "emails"
    response = admin_client.get(changelist(model), {"q": query})
    assert response.context["cl"].result_count == (2 if model == "consumerprocess" else 1)


def test_share_group_links_name_every_changelist():
    links = share_group_links("orders & more")
    assert set(links) == {"leases", "dead_letters", "archived", "processed", "processes"}
    assert links["leases"] == "/admin/django_sharegroups/lease/?share_group=orders+%26+more"


@pytest.mark.parametrize("model", ["consumerprocess", "lease"])
def test_stale_filter_finds_the_dead_process(admin_client, rows, model):
    alive, dead = rows
    stale = admin_client.get(changelist(model), {"stale": "yes"}).context["cl"]
    fresh = admin_client.get(changelist(model), {"stale": "no"}).context["cl"]
    pick = (lambda r: r.pk) if model == "consumerprocess" else (lambda r: r.process_id)
    assert [pick(r) for r in stale.queryset] == [dead.pk]
    assert [pick(r) for r in fresh.queryset] == [alive.pk]


@pytest.mark.parametrize("model", MODELS)
def test_rows_are_read_only_in_the_admin(admin_client, rows, model):
    assert admin_client.get(reverse(f"admin:django_sharegroups_{model}_add")).status_code == 403
    row = admin_client.get(changelist(model)).context["cl"].queryset.first()
    page = admin_client.get(reverse(f"admin:django_sharegroups_{model}_change", args=[row.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_dead_letter_page_shows_the_payload(admin_client):
    row = DeadLetterFactory(payload=b'{"order_id": 42}')
    page = admin_client.get(reverse("admin:django_sharegroups_deadletter_change", args=[row.pk]))
    assert b"{&quot;order_id&quot;: 42}" in page.content


class FakeProducer(RecordProducer):
    def __init__(self, fail_on: set[int] = frozenset()) -> None:
        self.produced: list[tuple] = []
        self.fail_on = fail_on
        self.closed = False

    def produce(self, topic, value, *, key=None, headers=(), timeout=30.0):
        if len(self.produced) in self.fail_on:
            self.produced.append(None)
            raise ProduceError("MSG_SIZE_TOO_LARGE: too big")
        self.produced.append((topic, value, key, list(headers)))
        return 0, len(self.produced)

    def close(self, timeout=30.0):
        self.closed = True


def run_action(admin_client, model: str, action: str, rows) -> list[str]:
    response = admin_client.post(
        changelist(model),
        {"action": action, "_selected_action": [r.pk for r in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_replay_reproduces_to_the_origin_topic_with_a_replay_header(admin_client, monkeypatch):
    producer = FakeProducer()
    monkeypatch.setattr(replay_module, "build_producer", lambda: producer)
    good = DeadLetterFactory(topic="orders", partition=2, offset=7, key=b"k", payload=b"p")
    cut = DeadLetterFactory(payload=b"xx", payload_size=10_000, payload_truncated=True)
    notes = run_action(admin_client, "deadletter", "replay_dead_letters", [good, cut])
    assert producer.produced == [
        (
            "orders",
            b"p",
            b"k",
            [("trace-id", b"abc"), ("empty", None), (REPLAY_HEADER, b"orders/orders[2]@7")],
        )
    ]
    assert producer.closed
    good.refresh_from_db()
    cut.refresh_from_db()
    assert good.replayed_at is not None and good.replay_count == 1
    assert cut.replayed_at is None
    assert notes[0] == "Replayed 1 record(s)."
    assert "Skipped 1 record(s)" in notes[1]


def test_a_record_the_broker_refuses_is_not_marked_replayed(admin_client, monkeypatch):
    producer = FakeProducer(fail_on={0})
    monkeypatch.setattr(replay_module, "build_producer", lambda: producer)
    first = DeadLetterFactory(offset=1)
    second = DeadLetterFactory(offset=2)
    notes = run_action(admin_client, "deadletter", "replay_dead_letters", [first, second])
    assert set(DeadLetter.objects.filter(replay_count=1).values_list("offset", flat=True)) == {2}
    assert any("not replayed (MSG_SIZE_TOO_LARGE" in note for note in notes)


def test_replay_without_a_producer_says_why(admin_client, monkeypatch):
    def broken():
        raise RuntimeError("no brokers configured")

    monkeypatch.setattr(replay_module, "build_producer", broken)
    notes = run_action(admin_client, "deadletter", "replay_dead_letters", [DeadLetterFactory()])
    assert notes == ["Replay failed: no brokers configured"]


def test_purge_deletes_only_selected_rows_past_their_retention(admin_client):
    old = ArchivedRecordFactory(archived_at=timezone.now() - timedelta(days=31))
    new = ArchivedRecordFactory()
    notes = run_action(admin_client, "archivedrecord", "purge_expired", [old, new])
    assert list(ArchivedRecord.objects.values_list("pk", flat=True)) == [new.pk]
    assert notes == ["Purged 1 row(s); kept 1 selected row(s) still within their retention."]


def test_replay_reaches_real_kafka(kafka_bootstrap_servers, kafka_topic):
    origin = kafka_topic(prefix="replay")
    row = DeadLetterFactory(topic=origin, key=b"key", payload=b'{"n": 1}')
    with override_settings(
        SHAREGROUPS={"CLIENT": "confluent", "KAFKA": {"bootstrap.servers": kafka_bootstrap_servers}}
    ):
        outcome = replay([row])
    assert outcome.replayed == [row] and not outcome.failed
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "group.id": f"{origin}-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([origin])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"key", b'{"n": 1}')
        headers = dict(message.headers())
        assert headers[REPLAY_HEADER] == f"orders/{origin}[0]@{row.offset}".encode()
        assert headers["trace-id"] == b"abc"
    finally:
        consumer.close()


@pytest.fixture
def staff_with(client, django_user_model):
    """``staff_with(*codenames)``: a logged-in staff client with exactly these permissions."""

    def login(*codenames: str):
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user(
            "staff-" + "-".join(codenames), password="pw", is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_sharegroups", codename__in=codenames
            )
        )
        client.force_login(user)
        return client

    return login


def offered_actions(client, model: str) -> set[str]:
    response = client.get(changelist(model))
    assert response.status_code == 200
    form = response.context["action_form"]  # None when no action is allowed
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


@pytest.mark.parametrize(
    ("codenames", "expected"),
    [
        (("view_deadletter",), set()),
        (("view_deadletter", "change_deadletter"), {"replay_dead_letters"}),
        (("view_deadletter", "delete_deadletter"), {"purge_expired", "delete_selected"}),
    ],
)
def test_dead_letter_actions_follow_the_permissions(staff_with, codenames, expected):
    DeadLetterFactory()
    assert offered_actions(staff_with(*codenames), "deadletter") == expected


def test_a_view_only_user_cannot_replay_or_purge_by_posting(staff_with, monkeypatch):
    producer = FakeProducer()
    monkeypatch.setattr(replay_module, "build_producer", lambda: producer)
    old = DeadLetterFactory(dead_lettered_at=timezone.now() - timedelta(days=400))
    client = staff_with("view_deadletter")
    for action in ("replay_dead_letters", "purge_expired"):
        response = client.post(
            changelist("deadletter"), {"action": action, "_selected_action": [old.pk]}
        )
        assert response.status_code in (200, 302)
    assert producer.produced == []
    old.refresh_from_db()
    assert old.replayed_at is None and old.replay_count == 0
