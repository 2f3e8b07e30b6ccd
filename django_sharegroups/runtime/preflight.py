"""Checks and look-ups before a process starts consuming.

Features that an adapter cannot honour fail here, naming the adapter and what is missing,
instead of degrading silently later. The group's lock duration and delivery-count limit are
read from the broker once (declared values win), because leases, delayed releases and the
poison-record observer depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clients.base import Capability, ShareConsumerClientFactory
from ..exceptions import CapabilityError, ConfigurationError
from ..routing import ShareGroup

#: Kafka's default ``share.delivery.count.limit``.
DEFAULT_DELIVERY_COUNT_LIMIT = 5


@dataclass(frozen=True)
class GroupLimits:
    record_lock_duration_ms: int | None
    delivery_count_limit: int


def resolve_limits(group: ShareGroup, factory: ShareConsumerClientFactory) -> GroupLimits:
    config = factory.share_group_config(group.name)
    lock = group.record_lock_duration_ms or config.get("share.record.lock.duration.ms")
    limit = group.delivery_count_limit or config.get("share.delivery.count.limit")
    return GroupLimits(
        record_lock_duration_ms=int(lock) if lock else None,
        delivery_count_limit=int(limit) if limit else DEFAULT_DELIVERY_COUNT_LIMIT,
    )


def check_capabilities(
    group: ShareGroup, factory: ShareConsumerClientFactory, limits: GroupLimits
) -> None:
    client_class = factory.client_class
    renews = client_class.supports(Capability.RENEW)
    for route in group.topics:
        where = f"share group {group.name!r}, topic {route.name!r}"
        if route.auto_renew is True:
            client_class.require(Capability.RENEW, f"auto_renew on {where}")
        if route.max_release_delay and not renews:
            lock = limits.record_lock_duration_ms
            if lock is None or route.max_release_delay >= lock:
                raise ConfigurationError(
                    f"max_release_delay={route.max_release_delay} ms on {where} can never be "
                    f"honoured by the '{client_class.name}' client adapter: it has no RENEW, so "
                    "a delayed release must fit inside the acquisition lock "
                    f"({lock if lock else 'unknown'} ms). Lower the delay, raise the group's "
                    "share.record.lock.duration.ms, or use an adapter with RENEW."
                )
        if route.dead_letter_queue:
            try:
                factory.producer()
            except CapabilityError as exc:
                raise CapabilityError(f"dead_letter_queue on {where}: {exc}") from exc
