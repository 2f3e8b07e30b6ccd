"""The example shop's share groups: one of each kind of consumer a Django project needs.

- ``shop-orders``: an idempotent, atomic consumer that upserts ``Order`` rows.
- ``shop-search``: a second share group on the same topic (each group gets every record),
  indexing orders in batches of up to 50.
- ``shop-webhooks``: a webhook sender that retries with exponential delays and dead-letters
  after three deliveries (replay them from the admin's Dead letters page).
- ``shop-customer-events``: ``per_key`` jobs, so one customer's events of a poll are
  handled in order by one worker.

Topics on a real cluster: ``shop-orders``, ``shop-webhooks``, ``shop-webhooks-dlq`` and
``shop-customer-events`` (the in-memory broker of ``--demo`` creates them).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.utils import timezone

from django_sharegroups import ShareGroupConsumer, share_group, topic

from .models import CustomerEvent, Order, WebhookDelivery

logger = logging.getLogger("example_project.shop")

#: First retry of a failed webhook after 200 ms, then 400 ms, 800 ms, ...
WEBHOOK_FIRST_RETRY_MS = 200
#: Deliveries of a webhook before it is dead-lettered with its last error.
WEBHOOK_ATTEMPTS = 3


class OrderConsumer(ShareGroupConsumer):
    """Each job runs in a transaction; a redelivered record that already committed is
    skipped, so an order is written once however often Kafka delivers it."""

    idempotent = True

    def consume(self, messages):
        for message in messages:
            event = message.payload
            if not isinstance(event, dict) or "order_id" not in event:
                self.mark_rejected(message)  # never processable: archived by the broker
                continue
            Order.objects.update_or_create(
                order_id=event["order_id"],
                defaults={
                    "customer": event.get("customer", ""),
                    "amount": Decimal(str(event.get("amount", 0))),
                },
            )
            self.mark_accepted(message)


class SearchIndexer(ShareGroupConsumer):
    """Indexes a batch at once; orders the orders consumer has not stored yet come back."""

    def consume(self, messages):
        ids = {m.payload["order_id"]: m for m in messages if "order_id" in m.payload}
        found = set(Order.objects.filter(order_id__in=ids).values_list("order_id", flat=True))
        Order.objects.filter(order_id__in=found).update(indexed_at=timezone.now())
        for message in messages:
            order_id = message.payload.get("order_id")
            if order_id in found:
                self.mark_accepted(message)
            elif order_id is None:
                self.mark_accepted(message)  # nothing to index
            else:
                self.mark_released(message, delay=1000)  # not stored yet: try again later


class WebhookConsumer(ShareGroupConsumer):
    """Sends a webhook per record. The endpoint here is simulated (a payload says how many
    times it fails) so the example never leaves the machine; put your HTTP call in
    ``deliver``."""

    def consume(self, messages):
        for message in messages:
            hook = message.payload
            try:
                self.deliver(hook, message.delivery_count)
            except ConnectionError as error:
                if message.delivery_count >= WEBHOOK_ATTEMPTS:
                    self.dispatch_to_dlq(message, error)  # the reason goes with the copy
                    continue
                delay = WEBHOOK_FIRST_RETRY_MS * 2 ** (message.delivery_count - 1)
                logger.info(
                    "webhook for order %s failed (%s); retry in %d ms",
                    hook["order_id"],
                    error,
                    delay,
                )
                self.mark_released(message, delay=delay)
            else:
                WebhookDelivery.objects.create(
                    order_id=hook["order_id"], url=hook["url"], attempts=message.delivery_count
                )
                self.mark_accepted(message)

    def deliver(self, hook: dict, attempt: int) -> None:
        if attempt <= hook.get("fail_times", 0):
            raise ConnectionError(f"{hook['url']} did not answer")


class CustomerTimeline(ShareGroupConsumer):
    """``per_key``: every event of one customer in a poll is in one job, in offset order."""

    def consume(self, messages):
        for message in messages:
            event = message.payload
            CustomerEvent.objects.get_or_create(
                customer=message.key.decode(),
                sequence=event["sequence"],
                defaults={"kind": event["kind"]},
            )
            self.mark_accepted(message)


share_group(
    "shop-orders",
    concurrency=2,
    topics=[topic("shop-orders", consumer=OrderConsumer)],
)
share_group(
    "shop-search",
    priority="low",  # indexing may lag a little: poll less eagerly than the orders group
    topics=[
        topic(
            "shop-orders",
            consumer=SearchIndexer,
            jobs_builder="per_batch",
            max_messages_per_job=50,
        )
    ],
)
share_group(
    "shop-webhooks",
    concurrency=2,
    workers_per_consumer=4,  # I/O-bound: several webhooks in flight per instance
    topics=[
        topic(
            "shop-webhooks",
            consumer=WebhookConsumer,
            # max_retries: also dead-letter a record released WEBHOOK_ATTEMPTS times for any
            # other reason (an exception in consume releases what is open).
            dead_letter_queue={"topic": "shop-webhooks-dlq", "max_retries": WEBHOOK_ATTEMPTS},
        )
    ],
)
share_group(
    "shop-customer-events",
    topics=[
        topic(
            "shop-customer-events",
            consumer=CustomerTimeline,
            jobs_builder="per_key",
            max_messages_per_job=100,
        )
    ],
)
