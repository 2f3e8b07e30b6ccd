"""Who may see and do what: the section, the dangerous actions, and the read-only audit log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_sharegroups.models import ShareGroupAuditEntry

pytestmark = pytest.mark.django_db

ACTIONS = {
    "reset": "reset_share_group_offsets",
    "config": "change_share_group_config",
    "delete": "delete_share_group",
}
LINK_IDS = {
    "reset": "reset-offsets-link",
    "config": "edit-configs-link",
    "delete": "delete-group-link",
}


def url(name: str, group: str | None = None) -> str:
    args = [group] if group is not None else []
    return reverse(f"admin:django_sharegroups_sharegroup_{name}", args=args)


@pytest.fixture
def staff_client(client, django_user_model):
    """``staff_client(*codenames)``: a logged-in staff user with exactly these permissions."""

    def login(*codenames: str):
        user = django_user_model.objects.create_user(
            f"staff-{len(codenames)}-{'-'.join(codenames)}"[:150], password="pw", is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_sharegroups", codename__in=codenames
            )
        )
        client.force_login(user)
        return client

    return login


def test_the_permissions_exist_on_the_table_less_model() -> None:
    codenames = set(
        Permission.objects.filter(content_type__model="sharegroup").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {"view_sharegroup", *ACTIONS.values()}
    audit = set(
        Permission.objects.filter(content_type__model="sharegroupauditentry").values_list(
            "codename", flat=True
        )
    )
    assert audit == {"view_sharegroupauditentry"}


def test_staff_without_the_view_permission_get_403(staff_client) -> None:
    client = staff_client()
    assert client.get(url("changelist")).status_code == 403
    assert client.get(url("detail", "any")).status_code == 403
    assert "Share groups" not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_viewing_is_not_enough_for_an_action(staff_client, action: str) -> None:
    client = staff_client("view_sharegroup")
    assert client.get(url(action, "any")).status_code == 403
    assert client.post(url(action, "any"), {"to": "earliest", "_confirm": 1}).status_code == 403
    assert not ShareGroupAuditEntry.objects.exists()


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_action_permission_needs_the_view_permission_too(staff_client, action: str) -> None:
    client = staff_client(ACTIONS[action])
    assert client.get(url(action, "any")).status_code == 403


@pytest.mark.kafka
@pytest.mark.parametrize("granted", [(), ("reset",), ("config", "delete")])
def test_the_detail_page_offers_only_permitted_actions(
    staff_client, kafka_settings, consumed_group, granted: tuple[str, ...]
) -> None:
    client = staff_client("view_sharegroup", *(ACTIONS[a] for a in granted))
    page = client.get(url("detail", consumed_group.name)).content.decode()
    assert "Total lag" in page
    for action, link_id in LINK_IDS.items():
        assert (f'id="{link_id}"' in page) == (action in granted), action
    for action in ACTIONS:
        expected = 200 if action in granted else 403
        assert client.get(url(action, consumed_group.name)).status_code == expected, action


@pytest.mark.kafka
def test_related_links_only_to_what_the_user_may_view(
    staff_client, kafka_settings, consumed_group
) -> None:
    client = staff_client("view_sharegroup", "view_sharegroupauditentry")
    response = client.get(url("detail", consumed_group.name))
    assert [link["label"] for link in response.context["related"]] == ["Audit log"]


def test_the_audit_log_is_read_only_even_for_superusers(admin_client) -> None:
    entry = ShareGroupAuditEntry.objects.create(
        actor="alice",
        source="cli",
        action="reset_offsets",
        share_group="orders",
        parameters={"to": "earliest"},
        before=[{"topic": "orders", "partition": 0, "start_offset": 7}],
        after=[{"topic": "orders", "partition": 0, "start_offset": 0}],
        outcome="succeeded",
    )
    listing = admin_client.get(
        reverse("admin:django_sharegroups_sharegroupauditentry_changelist"),
        {"share_group": "orders"},
    )
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    change_url = reverse("admin:django_sharegroups_sharegroupauditentry_change", args=[entry.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "&quot;start_offset&quot;: 7" in content and "<pre>" in content
    assert 'type="submit"' not in content.split('id="content-main"')[1].split("</form>")[0]
    add_url = reverse("admin:django_sharegroups_sharegroupauditentry_add")
    assert admin_client.get(add_url).status_code == 403
    delete_url = reverse("admin:django_sharegroups_sharegroupauditentry_delete", args=[entry.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.post(change_url, {"actor": "mallory"}).status_code == 403
    entry.refresh_from_db()
    assert entry.actor == "alice"


def test_staff_may_view_the_audit_log_with_its_view_permission(staff_client) -> None:
    changelist = reverse("admin:django_sharegroups_sharegroupauditentry_changelist")
    assert staff_client().get(changelist).status_code == 403
    assert staff_client("view_sharegroupauditentry").get(changelist).status_code == 200
