"""The example shop's consumers, tested the way docs/testing.md tells users to: through the
real engine on the in-memory broker, asserting per record what happened."""

from __future__ import annotations

from decimal import Decimal

import pytest

from example_project.shop.models import CustomerEvent, Order, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

HOOK = "https://hooks.example.com/orders"


def test_orders_are_stored_once_and_bad_ones_rejected(sharegroups_run) -> None:
    run = sharegroups_run("shop-orders")
    order = run.produce({"order_id": 1, "customer": "ada", "amount": 12.5})
    run.until(lambda: run.story(order).outcome == "accepted")  # two instances: keep the order
    again = run.produce({"order_id": 1, "customer": "ada", "amount": 13})
    broken = run.produce({"customer": "bob"})
    run.until_settled()
    run.assert_accepted(order)
    run.assert_accepted(again)
    run.assert_rejected(broken)
    assert list(Order.objects.values_list("order_id", "amount")) == [(1, Decimal("13.00"))]


def test_the_indexer_waits_for_orders_that_are_not_stored_yet(sharegroups_run) -> None:
    Order.objects.create(order_id=7, customer="ada", amount=1)
    run = sharegroups_run("shop-search")
    stored = run.produce({"order_id": 7})
    early = run.produce({"order_id": 8})
    run.until(lambda: run.story(early).delays_ms == [1000])
    Order.objects.create(order_id=8, customer="bob", amount=2)
    run.until_settled()
    run.assert_accepted(stored)
    run.assert_released(early, times=1, delay_ms=1000)
    run.assert_accepted(early)
    assert Order.objects.filter(indexed_at__isnull=False).count() == 2


def test_webhooks_retry_with_growing_delays_then_dead_letter(
    sharegroups_run, sharegroups_broker
) -> None:
    sharegroups_broker.create_topic("shop-webhooks-dlq", 1)
    run = sharegroups_run("shop-webhooks")
    flaky = run.produce({"order_id": 1, "url": HOOK, "fail_times": 2})
    dead = run.produce({"order_id": 2, "url": HOOK, "fail_times": 99})
    run.until_settled()
    run.assert_released(flaky, times=2)
    assert run.story(flaky).delays_ms == [200, 400]
    run.assert_accepted(flaky)
    run.assert_dead_lettered(dead, topic="shop-webhooks-dlq")
    assert run.story(dead).deliveries == 3  # WEBHOOK_ATTEMPTS
    assert run.story(dead).delays_ms == [200, 400]
    assert list(WebhookDelivery.objects.values_list("order_id", "attempts")) == [(1, 3)]
    copy = sharegroups_broker.read_records("shop-webhooks-dlq", 0)[0]
    assert b'"order_id": 2' in copy.value


def test_one_customers_events_stay_in_order(sharegroups_run) -> None:
    run = sharegroups_run("shop-customer-events", partitions=3)
    refs = [
        run.produce({"sequence": n, "kind": kind}, key="customer-7")
        for n, kind in enumerate(["cart", "checkout", "paid"])
    ]
    run.until_settled()
    for ref in refs:
        run.assert_accepted(ref)
    assert list(CustomerEvent.objects.values_list("sequence", "kind")) == [
        (0, "cart"),
        (1, "checkout"),
        (2, "paid"),
    ]
