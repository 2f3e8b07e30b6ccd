"""The default listener: turns runtime events into log lines (logger ``django_sharegroups``)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("django_sharegroups")


def log_event(event: str, payload: dict[str, Any]) -> None:
    if event == "job.errored":
        logger.error(
            "%s: consume() of %s failed; released %d unacknowledged record(s)",
            payload["consumer"],
            payload["records"],
            payload["released"],
            exc_info=payload["exception"],
        )
    elif event == "job.unacknowledged":
        logger.warning(
            "%s: consume() returned without acknowledging %s; released them",
            payload["consumer"],
            payload["records"],
        )
    elif event == "record.undeserializable":
        logger.warning(
            "%s: cannot deserialize %s (%s); %s",
            payload["share_group"],
            payload["record"],
            payload["error"],
            payload["action"],
        )
    elif event == "acks.failed":
        logger.error(
            "%s: broker refused acknowledgements: %s", payload["share_group"], payload["failures"]
        )
    elif event == "consumer.error":
        logger.error(
            "%s: %s", payload["share_group"], payload["error"], exc_info=payload.get("exception")
        )
    elif event in ("consumer.started", "consumer.stopped"):
        logger.info("%s: %s %s", payload["share_group"], payload["client_id"], event.split(".")[1])
    elif event == "process.started":
        logger.info("Started %d share-consumer instance(s)", len(payload["runner"].listeners))
    elif event == "process.shutdown":
        logger.info("Shutdown: %s", payload)
    else:
        logger.debug("%s %s", event, payload)
