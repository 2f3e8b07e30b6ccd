"""Typed, frozen route settings, built once when a process starts consuming.

``ShareGroup`` and ``Topic`` keep what the user declared, even wrong values, so the system
checks can report every mistake at once. The runtime never reads them raw: it gets these
settings, in which names are resolved to callables, dicts to small typed records and defaults
filled in, so the hot path indexes nothing by string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clients.base import AcknowledgeType
from ..messages import Deserializers
from ..processing.jobs_builders import JobsBuilder, resolve_jobs_builder
from .share_group import ShareGroup
from .topic import Topic


@dataclass(frozen=True, slots=True)
class DeadLetterSettings:
    """``dead_letter_queue={"topic": ..., "max_retries": ...}``."""

    topic: str
    max_retries: int


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """``throttle={"limit": ..., "interval": ...}``: at most ``limit`` records per interval."""

    limit: int
    interval_ms: int


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """One topic route, resolved."""

    name: str
    #: The declaration, handed to the consumer class (``consumer.topic``).
    route: Topic
    consumer_class: type
    deserializers: Deserializers
    build_jobs: JobsBuilder
    #: True when ``build_jobs`` is user code (its output is checked).
    custom_jobs_builder: bool
    max_messages_per_job: int
    implicit: bool
    partition_scoped: bool
    #: Renew held records while they wait or run (only where the adapter can RENEW).
    auto_renew: bool
    renew_fraction: float
    on_deserialization_error: AcknowledgeType
    filter: Callable[[Any], bool] | None
    dead_letter_queue: DeadLetterSettings | None
    max_release_delay_ms: int | None

    @classmethod
    def build(cls, route: Topic) -> TopicSettings:
        dlq = route.dead_letter_queue
        return cls(
            name=route.name,
            route=route,
            consumer_class=route.consumer_class(),
            deserializers=Deserializers.for_topic(route),
            build_jobs=resolve_jobs_builder(route.jobs_builder),
            custom_jobs_builder=callable(route.jobs_builder),
            max_messages_per_job=int(route.max_messages_per_job),
            implicit=route.acknowledgement_mode() == "implicit",
            partition_scoped=route.jobs_builder == "per_partition",
            auto_renew=route.auto_renew is not False,
            renew_fraction=float(route.renew_fraction),
            on_deserialization_error=AcknowledgeType[route.on_deserialization_error.upper()],
            filter=route.filter,
            dead_letter_queue=(
                DeadLetterSettings(dlq["topic"], int(dlq.get("max_retries", 1))) if dlq else None
            ),
            max_release_delay_ms=route.max_release_delay,
        )


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """One share group route, resolved."""

    name: str
    #: The declaration, handed to consumer classes (``consumer.share_group``).
    route: ShareGroup
    topics: Mapping[str, TopicSettings]
    concurrency: int
    workers_per_consumer: int
    poll_interval_ms: int
    throttle: ThrottleSettings | None
    kafka: Mapping[str, Any]
    max_delayed_releases: int

    @property
    def topic_names(self) -> list[str]:
        return list(self.topics)

    @property
    def max_messages_per_job(self) -> int:
        return max(t.max_messages_per_job for t in self.topics.values())

    @classmethod
    def build(cls, group: ShareGroup) -> GroupSettings:
        throttle = group.throttle
        return cls(
            name=group.name,
            route=group,
            topics={t.name: TopicSettings.build(t) for t in group.topics},
            concurrency=int(group.concurrency),
            workers_per_consumer=int(group.workers_per_consumer),
            poll_interval_ms=group.poll_interval_ms,
            throttle=(
                ThrottleSettings(int(throttle["limit"]), int(throttle["interval"]))
                if throttle
                else None
            ),
            kafka=dict(group.kafka),
            max_delayed_releases=int(group.max_delayed_releases),
        )
