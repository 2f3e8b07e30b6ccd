"""Sample records for ``python manage.py runshareconsumers --demo``.

Each round: three good orders (accepted), one that keeps failing transiently (released until
the delivery-count limit, then archived by the broker) and one without an ``order_id``
(rejected, archived at once).
"""


def records(round_number: int):
    base = round_number * 10
    for n in range(3):
        order_id = base + n
        yield "example-orders", {"order_id": order_id, "amount": 10 + n}, f"customer-{n}"
    yield "example-orders", {"order_id": base + 5, "fail": "transient"}, "customer-5"
    yield "example-orders", {"amount": 99}, None
