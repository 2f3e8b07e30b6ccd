"""The default listener: turns runtime events into log lines (logger ``django_sharegroups``).

Configure it with Django's ``LOGGING`` like any logger. Events logged at DEBUG (per record or
per poll) count as read only while the logger is enabled for DEBUG, so on the hot path their
payloads are not built otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from .bus import EventBus
from .catalog import EVENTS

logger = logging.getLogger("django_sharegroups")


def _error(payload: dict[str, Any]) -> None:
    logger.error(
        "%s: consume() of %s failed; released %d, rejected %d unacknowledged record(s)",
        payload["consumer"],
        payload["records"],
        payload["released"],
        payload["rejected"],
        exc_info=payload["exception"],
    )


MESSAGES: dict[str, tuple[int, str]] = {
    "job.unacknowledged": (
        logging.WARNING,
        "{consumer}: consume() returned without acknowledging {records}; released them",
    ),
    "record.undeserializable": (
        logging.WARNING,
        "{share_group}: cannot deserialize {record} ({error}); {action}",
    ),
    "acks.failed": (logging.ERROR, "{share_group}: broker refused acknowledgements: {failures}"),
    "lock.expired": (
        logging.DEBUG,
        "{share_group}: the lock of {record} ran out before its acknowledgement "
        "(processed: {processed})",
    ),
    "locks.expired": (
        logging.WARNING,
        "{share_group}: locks ran out before the acknowledgement of {not_started} record(s) "
        "not started and {processed} processed, e.g. {records} (details at DEBUG)",
    ),
    "release.clamped": (
        logging.WARNING,
        "{share_group}: delayed release of {record} asked {asked_ms} ms, the lock allows "
        "{honoured_ms} ms (no RENEW on this adapter)",
    ),
    "release.overflow": (
        logging.WARNING,
        "{share_group}: delayed releases are full; released {record} at once",
    ),
    "dlq.dispatched": (
        logging.WARNING,
        "{share_group}: {topic}[{partition}]@{offset} sent to {dlq_topic}[{dlq_partition}]"
        "@{dlq_offset} after {delivery_count} delivery(ies): {error_class}: {error_message}",
    ),
    "dlq.failed": (
        logging.ERROR,
        "{share_group}: could not dead-letter {record} to {dlq_topic} ({error}); released it",
    ),
    "record.archived": (
        logging.INFO,
        "{share_group}: broker archives {topic}[{partition}]@{offset} ({reason}, "
        "delivery {delivery_count})",
    ),
    "records.failed": (
        logging.ERROR,
        "{share_group}: {stage} raised on {records}: {error}; {action}",
    ),
    "consumer.failed": (logging.ERROR, "{share_group}: {client_id} died: {error}"),
    "consumer.restarted": (
        logging.WARNING,
        "{share_group}: instance {index} restarted (attempt {attempt}) after: {cause}",
    ),
    "group.down": (
        logging.ERROR,
        "{share_group}: no live instance for {seconds:.0f} s ({cause}); giving up",
    ),
    "acquisition.exceeded": (
        logging.WARNING,
        "{share_group}: asked for {asked} record(s), the '{client}' adapter acquired "
        "{received}; records that cannot start before their lock lapses are not processed "
        "(set max.poll.records in the group's kafka options, or use the 'native' adapter)",
    ),
    "consumer.started": (logging.INFO, "{share_group}: {client_id} started"),
    "consumer.stopped": (logging.INFO, "{share_group}: {client_id} stopped"),
    "process.quiet": (logging.INFO, "Quiet: {listeners} instance(s) stop polling"),
    "supervisor.started": (
        logging.INFO,
        "Supervisor: {processes} process(es) for {share_groups}; probe: {probe}",
    ),
    "supervisor.child_started": (logging.INFO, "Process {index} started (pid {pid})"),
    "supervisor.child_ready": (logging.INFO, "Process {index} (pid {pid}) is consuming"),
    "supervisor.child_restarting": (
        logging.WARNING,
        "Process {index}: restart in {delay:g} s (death {attempt} in a row)",
    ),
    "supervisor.gave_up": (
        logging.ERROR,
        "Process {index} died {deaths} times in a row (last exit code {exit_code}): giving up",
    ),
    "supervisor.stopping": (logging.INFO, "Supervisor stopping ({reason}): {signal} to {to}"),
    "supervisor.rolling_restart": (
        logging.INFO,
        "Rolling restart of processes {processes}: drain one, start its replacement, next",
    ),
    "supervisor.rolling_restart_finished": (logging.INFO, "Rolling restart finished"),
    "supervisor.stopped": (
        logging.INFO,
        "Supervisor stopped with exit code {exit_code} (children: {children})",
    ),
}


#: Events with a line of their own outside MESSAGES, and its level.
SPECIAL: dict[str, int] = {
    "job.errored": logging.ERROR,
    "consumer.error": logging.ERROR,
    "acquisition.sized": logging.INFO,
    "process.started": logging.INFO,
    "process.shutdown": logging.INFO,
    "supervisor.child_exited": logging.INFO,
}


class DebugLines:
    """``log_event`` for events logged at DEBUG: it counts as a listener only while the
    logger is enabled for DEBUG, so their payloads are not built otherwise."""

    def active(self) -> bool:
        return logger.isEnabledFor(logging.DEBUG)

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        if self.active():
            log_event(event, payload)


def connect(bus: EventBus) -> None:
    """Subscribe :func:`log_event`: to events with a line at INFO or above always, to the
    others through :class:`DebugLines`."""
    levels = {**{event: level for event, (level, _) in MESSAGES.items()}, **SPECIAL}
    debug_lines = DebugLines()
    for event in EVENTS:
        if levels.get(event, logging.DEBUG) > logging.DEBUG:
            bus.subscribe(event, log_event)
        else:
            bus.subscribe(event, debug_lines)


def log_event(event: str, payload: dict[str, Any]) -> None:
    if event == "job.errored":
        _error(payload)
    elif event == "consumer.error":
        logger.error(
            "%s: %s", payload["share_group"], payload["error"], exc_info=payload.get("exception")
        )
    elif event == "acquisition.sized":
        pace = payload["ms_per_record"]
        logger.info(
            "%s: polls ask for up to %d record(s) (%s, lock %d ms, %d worker(s)%s%s)",
            payload["share_group"],
            payload["records"],
            "no job timed yet" if pace is None else f"{pace:g} ms per record",
            payload["lock_ms"],
            payload["workers"],
            ", renewing held records" if payload["renewing"] else "",
            ", whole producer batches" if payload["whole_batches"] else "",
        )
    elif event == "process.started":
        logger.info("Started %d share-consumer instance(s)", len(payload["runner"].listeners))
    elif event == "process.shutdown":
        logger.info("Shutdown: %s", payload)
    elif event == "supervisor.child_exited":
        logger.log(
            logging.INFO if payload["expected"] else logging.ERROR,
            "Process %d (pid %d) %s with exit code %s after %s s",
            payload["index"],
            payload["pid"],
            "exited" if payload["expected"] else "died",
            payload["exit_code"],
            payload["seconds"],
        )
    elif event in MESSAGES:
        level, template = MESSAGES[event]
        if logger.isEnabledFor(level):
            logger.log(level, template.format(**payload), exc_info=payload.get("exception"))
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s %s", event, payload)
