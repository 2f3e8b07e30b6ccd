"""The example shop's admin after a run, in headless Chromium: the orders the consumers
stored, and the dead-lettered webhook with its Replay action. With
SHAREGROUPS_UPDATE_SCREENSHOTS=1 the pages are saved to docs/images for the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_sharegroups.models import DeadLetter
from example_project.shop.models import Order
from tests.admin_ui.helpers import wait_for
from tests.admin_ui.test_browser import PASSWORD, browser, images  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_shop_admin_shows_orders_and_a_dead_letter_to_replay(
    browser,  # noqa: F811
    images: Path,  # noqa: F811
    live_server,
    django_user_model,
    sharegroups_run,
    sharegroups_broker,
) -> None:
    sharegroups_broker.create_topic("shop-webhooks-dlq", 1)
    # The first runner of a process is the one its mirror reporter follows: the webhooks.
    webhooks = sharegroups_run("shop-webhooks")
    webhooks.produce({"order_id": 100, "url": "https://hooks.example.com/o", "fail_times": 99})
    webhooks.until_settled()
    wait_for(lambda: DeadLetter.objects.filter(dlq_topic="shop-webhooks-dlq").exists())
    orders = sharegroups_run("shop-orders")
    for n in range(3):
        orders.produce({"order_id": 100 + n, "customer": f"customer-{n}", "amount": 10 + n})
    orders.until_settled()
    assert Order.objects.count() == 3

    django_user_model.objects.create_superuser("admin", password=PASSWORD)
    page = browser.new_page(viewport={"width": 1440, "height": 800})
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    assert "shop (example)" in page.inner_text("#content-main").lower()

    page.goto(f"{live_server.url}/admin/shop/order/")
    rows = page.inner_text("#result_list")
    assert all(str(100 + n) in rows for n in range(3))
    page.screenshot(path=str(images / "example-shop-orders.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/django_sharegroups/deadletter/")
    rows = page.inner_text("#result_list")
    assert "shop-webhooks" in rows and "ConnectionError" in rows
    actions = page.inner_text("select[name=action]")
    assert "Replay" in actions
    page.screenshot(path=str(images / "example-dead-letters.png"), full_page=True)
    assert (images / "example-dead-letters.png").stat().st_size > 10_000
