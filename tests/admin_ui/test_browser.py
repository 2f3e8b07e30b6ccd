"""The admin in a real browser: headless Chromium (Debian's package) driven by Playwright.

Skipped with the reason when Playwright or Chromium is missing; CI sets
``SHAREGROUPS_REQUIRE_BROWSER=1`` so that a missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connections

from tests.services import REPO_ROOT, require_or_skip

from .helpers import CLIENT_ID, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("SHAREGROUPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
PASSWORD = "browser-test-password"


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip(
            "browser", "Playwright for Python is not installed (pip install playwright)"
        )
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        require_or_skip("browser", f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
    # synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # While Playwright's loop runs, Django keeps the test's database connections per
            # async context; close them here or they outlive the test database.
            connections.close_all()


@pytest.fixture
def images(tmp_path) -> Path:
    """Where screenshots go: docs/images with SHAREGROUPS_UPDATE_SCREENSHOTS=1 (to refresh
    docs/admin.md), else a temporary directory so a test run leaves the checkout alone."""
    if os.environ.get("SHAREGROUPS_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOCS_IMAGES
    return tmp_path


@pytest.fixture
def staff_user(django_user_model):
    """``staff_user(name, *codenames)``: a staff account with exactly these permissions."""

    def create(username: str, *codenames: str):
        user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_sharegroups", codename__in=codenames
            )
        )
        return user

    return create


def log_in(browser, live_server, username: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    return page


def open_group(page, name: str) -> None:
    """From the admin index: the Share groups section, search, the group's page."""
    page.click("#content-main tr.model-sharegroup th a")
    page.fill("#searchbar", name)
    page.press("#searchbar", "Enter")
    page.click(f"#result_list a:text-is('{name}')")
    page.wait_for_selector("#group-state")


def preview_and_confirm_reset(page) -> None:
    page.click("#reset-offsets-link")
    page.check("input[name=to][value=earliest]")
    page.click("#preview-reset")
    page.wait_for_selector("#reset-plan")
    assert "nothing has changed yet" in page.inner_text("#reset-plan")
    page.click("#confirm-reset")


def test_an_operator_resets_a_group_and_sees_the_audit_row(
    browser,
    live_server,
    kafka_settings,
    staff_user,
    new_group,
    running_consumer,
    broker_admin,
    images: Path,
) -> None:
    staff_user(
        "operator",
        "view_sharegroup",
        "reset_share_group_offsets",
        "view_sharegroupauditentry",
    )
    group = new_group()
    page = log_in(browser, live_server, "operator")

    with running_consumer(group) as consumer:
        consumer.wait_for_records(group.records)
        open_group(page, group.name)
        assert page.inner_text("#group-state") == "Stable"
        members = page.inner_text("#members")
        assert CLIENT_ID in members and "127.0.0.1" in members and "/127.0.0.1" not in members
        assert f"{group.topic}: 0, 1" in members
        page.screenshot(path=str(images / "share-group-detail.png"), full_page=True)
        assert (images / "share-group-detail.png").stat().st_size > 20_000

        # The member is still connected: the broker refuses, and the page says why.
        preview_and_confirm_reset(page)
        assert "The broker refused: NON_EMPTY_GROUP" in page.inner_text("#broker-error")

    wait_for(lambda: broker_admin.describe_share_group(group.name).is_empty)
    page.goto(f"{live_server.url}/admin/django_sharegroups/sharegroup/view/{group.name}/")
    page.wait_for_selector("#group-state")
    page.click("#reset-offsets-link")
    page.click("#preview-reset")
    page.wait_for_selector("#reset-plan")
    page.screenshot(path=str(images / "share-group-reset-preview.png"), full_page=True)
    page.click("#confirm-reset")
    page.wait_for_selector("#group-state")
    assert "Reset the start offset of 2 partition(s)" in page.inner_text("ul.messagelist")
    deadline = time.monotonic() + 20
    while page.inner_text("#total-lag") != str(group.records) and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    assert page.inner_text("#total-lag") == str(group.records)

    page.click("#related a:text-is('Audit log')")
    page.wait_for_selector("#result_list")
    rows = page.inner_text("#result_list")
    assert rows.count(group.name) == 2
    assert "NON_EMPTY_GROUP" in rows and "succeeded" in rows and "operator" in rows


def test_a_staff_user_without_the_permission_cannot_reset(
    browser, live_server, kafka_settings, staff_user, consumed_group
) -> None:
    staff_user("viewer", "view_sharegroup")
    page = log_in(browser, live_server, "viewer")
    open_group(page, consumed_group.name)

    assert page.inner_text("#group-state") == "Empty"
    assert page.locator("#reset-offsets-link").count() == 0
    assert page.locator(".object-tools").count() == 0
    response = page.goto(
        f"{live_server.url}/admin/django_sharegroups/sharegroup/reset/{consumed_group.name}/"
    )
    assert response.status == 403


def test_a_view_only_user_is_not_offered_replay_or_purge(browser, live_server, staff_user) -> None:
    from django.utils import timezone

    from django_sharegroups.models import DeadLetter

    DeadLetter.objects.create(
        share_group="orders",
        topic="orders",
        partition=0,
        offset=1,
        delivery_count=5,
        dlq_topic="dlq.orders",
        dead_lettered_at=timezone.now(),
    )
    staff_user("dead-letter-viewer", "view_deadletter")
    staff_user("dead-letter-operator", "view_deadletter", "change_deadletter")
    changelist = f"{live_server.url}/admin/django_sharegroups/deadletter/"

    viewer = log_in(browser, live_server, "dead-letter-viewer")
    viewer.goto(changelist)
    viewer.wait_for_selector("#result_list")
    assert viewer.locator("select[name=action]").count() == 0
    assert "Replay selected" not in viewer.content()

    operator = log_in(browser, live_server, "dead-letter-operator")
    operator.goto(changelist)
    options = operator.locator("select[name=action] option").all_inner_texts()
    assert any(text.startswith("Replay") for text in options), options
    assert not any(text.startswith("Purge") for text in options), options
