"""The example share group: order events as JSON, processed like a job queue.

A record ``{"order_id": 7, "amount": 12.5}`` is accepted; one with ``"fail": "transient"`` is
released (the broker redelivers it, delivery count + 1, up to the group's limit); one without
an ``order_id`` is rejected (the broker archives it).
"""

import logging

from django_sharegroups import ShareGroupConsumer, share_group, topic

logger = logging.getLogger("example_project.jobs")


class OrderEventsConsumer(ShareGroupConsumer):
    def consume(self, messages):
        for message in messages:
            event = message.payload
            if not isinstance(event, dict) or "order_id" not in event:
                logger.warning("rejecting %r: no order_id", message)
                self.mark_rejected(message)
            elif event.get("fail") == "transient":
                logger.info(
                    "releasing order %s (delivery %d)", event["order_id"], message.delivery_count
                )
                self.mark_released(message)
            else:
                logger.info("order %s processed: amount %s", event["order_id"], event.get("amount"))
                self.mark_accepted(message)


share_group(
    "example-orders",
    concurrency=2,
    topics=[topic("example-orders", consumer=OrderEventsConsumer)],
)
