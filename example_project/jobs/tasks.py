"""A background task of the example: enqueued by a view, run by ``runshareconsumers``."""

import logging

from django_tasks import task

logger = logging.getLogger("example_project.jobs")


@task
def send_receipt(order_id: int, email: str) -> dict:
    logger.info("receipt for order %s sent to %s", order_id, email)
    return {"order_id": order_id, "sent_to": email}
