"""The dashboards' views with the Django test client: permissions, the error box, the panels
from mirrored rows. The browser test (test_dashboards_browser.py) runs them on real data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from django_sharegroups.admin import dashboard_data
from django_sharegroups.models import ThroughputMinute
from tests.orm.factories import (
    ArchivedRecordFactory,
    ConsumerProcessFactory,
    DeadLetterFactory,
    LeaseFactory,
)

from .test_unreachable_cluster import unreachable_kafka  # noqa: F401

pytestmark = pytest.mark.django_db

EVERYTHING = (
    "view_throughputminute",
    "view_sharegroup",
    "view_lease",
    "view_consumerprocess",
    "view_archivedrecord",
    "view_deadletter",
)


def overview_url() -> str:
    return reverse("admin:django_sharegroups_throughputminute_changelist")


def group_url(name: str) -> str:
    return reverse("admin:django_sharegroups_throughputminute_group", args=[name])


@pytest.fixture
def staff(client, django_user_model):
    """``staff(*codenames)``: a client logged in as staff with exactly these permissions."""

    def login(*codenames: str):
        user = django_user_model.objects.create_user(
            f"dash-{len(codenames)}-{abs(hash(codenames))}", password="pw", is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_sharegroups", codename__in=codenames
            )
        )
        client.force_login(user)
        return client

    return login


def minute_ago(minutes: int):
    return dashboard_data.minute_floor(timezone.now()) - timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "codenames",
    [(), ("view_sharegroup",), ("view_throughputminute",), EVERYTHING[2:]],
    ids=["nothing", "only-share-groups", "only-rollups", "mirrored-models-only"],
)
def test_staff_without_both_view_permissions_get_403(staff, unreachable_kafka, codenames):  # noqa: F811
    client = staff(*codenames)
    assert client.get(overview_url()).status_code == 403
    assert client.get(group_url("orders")).status_code == 403


def test_the_dashboards_are_in_the_admin_index_for_those_who_may_see_them(staff, admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{overview_url()}"' in html
    assert "Share-group dashboards" in html
    client = staff("view_sharegroup")
    assert f'href="{overview_url()}"' not in client.get(reverse("admin:index")).content.decode()


def test_an_unreachable_cluster_is_an_error_box_and_the_database_panels_still_show(
    staff,
    unreachable_kafka,  # noqa: F811
):
    ThroughputMinute.objects.create(
        share_group="orders", minute=minute_ago(2), reporter="a", accepted=7, rejected=1
    )
    ThroughputMinute.objects.create(
        share_group="orders", minute=minute_ago(2), reporter="b", accepted=5
    )
    client = staff(*EVERYTHING)
    for url in (overview_url(), group_url("orders")):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="broker-error"' in html
        assert response.context["error"]["error"] == "KafkaConnectionError"
        assert response.context["throughput"].totals["accepted"] == 12  # both reporters
        assert "<svg" in html and 'role="img"' in html
    overview = client.get(overview_url())
    (row,) = overview.context["groups"]
    assert (row["name"], row["totals"]["accepted"], row["totals"]["rejected"]) == ("orders", 12, 1)
    assert f'href="{group_url("orders")}?window=1h"' in overview.content.decode()


def test_the_group_page_shows_the_mirrored_rows_with_links(staff, unreachable_kafka):  # noqa: F811
    process = ConsumerProcessFactory(share_groups=["orders", "payments"])
    ConsumerProcessFactory(share_groups=["payments"])
    ConsumerProcessFactory(share_groups=["orders"], stale=True)
    held = timezone.now() - timedelta(seconds=12)
    LeaseFactory(process=process, acquired_at=held, delivery_count=2, offset=40)
    LeaseFactory(share_group="payments", topic="payments", process=process)
    archived = ArchivedRecordFactory(delivery_count=5, offset=7)
    ArchivedRecordFactory(delivery_count=5)
    ArchivedRecordFactory(delivery_count=1, reason="rejected")
    ArchivedRecordFactory(delivery_count=5, archived_at=timezone.now() - timedelta(hours=3))
    dead = DeadLetterFactory(delivery_count=3, offset=9)
    response = staff(*EVERYTHING).get(group_url("orders"))
    assert response.status_code == 200
    context = response.context
    assert context["lease_count"] == 1
    (lease,) = context["leases"]
    assert lease.lease.offset == 40 and lease.lock == 30
    assert 12 <= lease.age < 12 + 60  # whatever the test machine's pace
    assert lease.used == round(100 * lease.age / 30)
    assert context["delivery_counts"] == [  # the 3 h old record is outside the 1 h window
        {"delivery_count": 1, "archived": 1, "dead_lettered": 0},
        {"delivery_count": 3, "archived": 0, "dead_lettered": 1},
        {"delivery_count": 5, "archived": 2, "dead_lettered": 0},
    ]
    assert len(context["processes"]) == 2
    assert [row["stale"] for row in context["processes"]] == [False, True]
    html = response.content.decode()
    change = reverse("admin:django_sharegroups_archivedrecord_change", args=[archived.pk])
    assert f'href="{change}"' in html
    assert f'href="{reverse("admin:django_sharegroups_deadletter_change", args=[dead.pk])}"' in html
    assert "orders[0]@40" in html and "stale: no heartbeat" in html
    assert len(context["archived"]) == 4  # recent records are not limited to the window


def test_panels_of_models_the_user_may_not_view_are_left_out(staff, unreachable_kafka):  # noqa: F811
    LeaseFactory()
    response = staff("view_throughputminute", "view_sharegroup").get(group_url("orders"))
    assert response.status_code == 200
    html = response.content.decode()
    for panel in ("leases", "processes", "recent-archived", "recent-dead-letters"):
        assert f'id="{panel}"' not in html
    assert 'id="throughput"' in html


def test_window_and_refresh_come_from_the_query(staff, unreachable_kafka):  # noqa: F811
    ThroughputMinute.objects.create(
        share_group="orders", minute=minute_ago(200), reporter="a", released=4
    )
    client = staff(*EVERYTHING)
    hour = client.get(overview_url())
    assert hour.context["throughput"].totals["released"] == 0
    assert '<meta http-equiv="refresh"' not in hour.content.decode()
    six = client.get(overview_url(), {"window": "6h", "refresh": "2"})
    throughput = six.context["throughput"]
    assert throughput.totals["released"] == 4
    assert (throughput.bucket_minutes, len(throughput.starts)) == (3, 120)
    assert '<meta http-equiv="refresh" content="5">' in six.content.decode()  # at least 5 s
    odd = client.get(overview_url(), {"window": "forever", "refresh": "soon"})
    assert (odd.context["window"], odd.context["refresh"]) == ("1h", None)


def test_throughput_buckets_add_minutes_up_and_keep_the_newest_minute():
    now = timezone.now()
    for minutes, accepted in ((0, 1), (1, 2), (59, 4), (60, 8)):
        ThroughputMinute.objects.create(
            share_group="g", minute=minute_ago(minutes), reporter="r", accepted=accepted
        )
    hour = dashboard_data.throughput(60, "g", now=now)
    assert hour.columns["accepted"][-2:] == [2, 1] and hour.columns["accepted"][0] == 4
    assert hour.totals["accepted"] == 7  # 60 minutes ago is outside the last hour
    day = dashboard_data.throughput(24 * 60, "g", now=now)
    assert day.bucket_minutes == 12 and day.totals["accepted"] == 15
    assert dashboard_data.throughput(60, "other", now=now).totals["accepted"] == 0
