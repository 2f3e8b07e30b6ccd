"""Sample records for the shop's share groups (``runshareconsumers --demo``).

Each round: two orders (indexed too, by the second share group on the topic), a webhook that
succeeds, one that fails twice before it succeeds, one that always fails (dead-lettered), and
three events of one customer that must stay in order.
"""


def records(round_number: int):
    base = 1000 + round_number * 10
    for n in range(2):
        order = {"order_id": base + n, "customer": f"customer-{n}", "amount": 20 + n}
        yield "shop-orders", order, f"customer-{n}"
    url = "https://hooks.example.com/orders"
    yield "shop-webhooks", {"order_id": base, "url": url}, None
    yield "shop-webhooks", {"order_id": base + 1, "url": url, "fail_times": 2}, None
    yield "shop-webhooks", {"order_id": base + 2, "url": url, "fail_times": 99}, None
    for sequence, kind in enumerate(("cart", "checkout", "paid")):
        event = {"sequence": round_number * 3 + sequence, "kind": kind}
        yield "shop-customer-events", event, "customer-7"
