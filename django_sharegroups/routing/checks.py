"""System checks for declared routes: ``manage.py check`` reports every broken declaration.

Check ids (also listed in docs/routing.md):

- ``sharegroups.E001`` consumer cannot be imported
- ``sharegroups.E002`` consumer is not a ShareGroupConsumer subclass
- ``sharegroups.E003`` topic declared twice in one share group
- ``sharegroups.E004`` share group declared twice
- ``sharegroups.E005`` invalid share-group option value
- ``sharegroups.E006`` invalid topic option value
- ``sharegroups.E007`` share group without topics
- ``sharegroups.E008`` invalid share-group or topic name
- ``sharegroups.E009`` invalid SHAREGROUPS setting or unknown client adapter
- ``sharegroups.E010`` idempotent consumer on a database that cannot claim rows
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.core.checks import Error

from ..clients import ADAPTERS
from ..exceptions import ConfigurationError
from ..kafka.names import GROUP_NAME_RULE, TOPIC_NAME_RULE, is_group_name, is_topic_name
from ..messages import NAMED_DESERIALIZERS
from .registry import RouteRegistry, registry
from .share_group import PRIORITY_POLL_INTERVALS_MS, ShareGroup
from .topic import ACKNOWLEDGEMENT_MODES, DESERIALIZATION_ERROR_POLICIES, JOBS_BUILDERS, Topic


def check_routes(app_configs=None, routes: RouteRegistry | None = None, **kwargs) -> list[Error]:
    """Entry point registered with Django's check framework."""
    routes = routes or registry
    errors = list(_check_settings())
    groups = routes.groups
    for name, count in Counter(g.name for g in groups if _hashable(g.name)).items():
        if count > 1:
            errors.append(
                Error(
                    f"Share group {name!r} is declared {count} times.",
                    hint="Give each share group a unique name, or merge the declarations.",
                    id="sharegroups.E004",
                )
            )
    for group in groups:
        errors.extend(_check_group(group))
    return errors


def _check_settings() -> Iterable[Error]:
    from ..conf import get_settings

    try:
        settings = get_settings()
    except ConfigurationError as exc:
        yield Error(str(exc), id="sharegroups.E009")
        return
    if settings.client not in ADAPTERS:
        yield Error(
            f"SHAREGROUPS['CLIENT'] is {settings.client!r}, which is not a client adapter.",
            hint=f"Use one of: {', '.join(ADAPTERS)}.",
            id="sharegroups.E009",
        )
    if settings.tracing:
        from ..instrumentation.otel import tracing_unavailable

        if problem := tracing_unavailable():
            yield Error(problem, id="sharegroups.E009")


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _group_label(group: ShareGroup) -> str:
    where = f" (declared in {group.declared_in})" if group.declared_in else ""
    return f"Share group {group.name!r}{where}"


def _check_group(group: ShareGroup) -> Iterable[Error]:
    label = _group_label(group)
    if not is_group_name(group.name):
        yield Error(
            f"{label}: a share group name is {GROUP_NAME_RULE}.",
            id="sharegroups.E008",
            obj=group.name,
        )
    if not group.topics:
        yield Error(
            f"{label} has no topics.",
            hint="Pass topics=[topic('name', consumer=MyConsumer)].",
            id="sharegroups.E007",
        )
    yield from _check_group_options(group, label)
    names = Counter(t.name for t in group.topics if _hashable(t.name))
    for name, count in names.items():
        if count > 1:
            yield Error(
                f"{label} routes topic {name!r} {count} times.",
                hint="Declare each topic once per share group.",
                id="sharegroups.E003",
            )
    for route in group.topics:
        yield from _check_topic(route, label)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_group_options(group: ShareGroup, label: str) -> Iterable[Error]:
    def invalid(option: str, value, expected: str) -> Error:
        return Error(
            f"{label}: {option}={value!r} is invalid; expected {expected}.",
            id="sharegroups.E005",
        )

    if not _positive_int(group.concurrency):
        yield invalid("concurrency", group.concurrency, "an integer >= 1")
    if not _positive_int(group.workers_per_consumer):
        yield invalid("workers_per_consumer", group.workers_per_consumer, "an integer >= 1")
    throttle = group.throttle
    if throttle is not None and not (
        isinstance(throttle, dict)
        and set(throttle) == {"limit", "interval"}
        and all(_positive_int(v) for v in throttle.values())
    ):
        yield invalid("throttle", throttle, '{"limit": records >= 1, "interval": ms >= 1}')
    if group.record_lock_duration_ms is not None and not _positive_int(
        group.record_lock_duration_ms
    ):
        yield invalid("record_lock_duration_ms", group.record_lock_duration_ms, "ms >= 1")
    limit = group.delivery_count_limit
    if limit is not None and not (_positive_int(limit) and limit >= 2):
        yield invalid("delivery_count_limit", limit, "an integer >= 2 (Kafka's minimum)")
    if not _positive_int(group.max_delayed_releases):
        yield invalid("max_delayed_releases", group.max_delayed_releases, "an integer >= 1")
    if group.poll_interval is not None and not (
        isinstance(group.poll_interval, int)
        and not isinstance(group.poll_interval, bool)
        and group.poll_interval >= 0
    ):
        yield invalid("poll_interval", group.poll_interval, "milliseconds as an integer >= 0")
    if group.priority not in PRIORITY_POLL_INTERVALS_MS:
        yield invalid("priority", group.priority, " | ".join(PRIORITY_POLL_INTERVALS_MS))
    if group.client is not None and group.client not in ADAPTERS:
        yield invalid("client", group.client, "one of " + ", ".join(ADAPTERS))
    if not isinstance(group.kafka, dict):
        yield invalid("kafka", group.kafka, "a dict of librdkafka settings")
    dlq = group.dead_letter_queue
    if not (
        dlq is None
        or isinstance(dlq, bool)
        or (
            isinstance(dlq, dict)
            and set(dlq) <= {"topic", "copy_record"}
            and isinstance(dlq.get("topic", ""), str)
            and isinstance(dlq.get("copy_record", True), bool)
        )
    ):
        yield invalid(
            "dead_letter_queue",
            dlq,
            'True, False or {"topic": "dlq.<name>", "copy_record": bool} (the broker DLQ)',
        )


def _check_topic(route: Topic, label: str) -> Iterable[Error]:
    where = f"{label}, topic {route.name!r}"
    if not is_topic_name(route.name):
        yield Error(f"{where}: a topic name is {TOPIC_NAME_RULE}.", id="sharegroups.E008")
    yield from _check_consumer(route, where)

    def invalid(option: str, value, expected: str) -> Error:
        return Error(
            f"{where}: {option}={value!r} is invalid; expected {expected}.",
            id="sharegroups.E006",
        )

    if route.jobs_builder not in JOBS_BUILDERS and not callable(route.jobs_builder):
        yield invalid(
            "jobs_builder", route.jobs_builder, " | ".join(JOBS_BUILDERS) + " or a callable"
        )
    if not _positive_int(route.max_messages_per_job):
        yield invalid("max_messages_per_job", route.max_messages_per_job, "an integer >= 1")
    elif route.jobs_builder == "per_message" and route.max_messages_per_job != 1:
        yield invalid(
            "max_messages_per_job",
            route.max_messages_per_job,
            "1 with jobs_builder='per_message' (use 'per_batch' for bigger jobs)",
        )
    for option in ("deserializer", "key_deserializer", "headers_deserializer"):
        value = getattr(route, option)
        if not callable(value) and not (isinstance(value, str) and value in NAMED_DESERIALIZERS):
            yield invalid(option, value, " | ".join(NAMED_DESERIALIZERS) + " or a callable")
    if route.acknowledgement is not None and route.acknowledgement not in ACKNOWLEDGEMENT_MODES:
        yield invalid("acknowledgement", route.acknowledgement, " | ".join(ACKNOWLEDGEMENT_MODES))
    if route.filter is not None and not callable(route.filter):
        yield invalid("filter", route.filter, "a callable(message) -> bool")
    dlq = route.dead_letter_queue
    if dlq is not None and not (
        isinstance(dlq, dict)
        and set(dlq) <= {"topic", "max_retries"}
        and is_topic_name(dlq.get("topic"))
        and dlq["topic"] != route.name
        and _positive_int(dlq.get("max_retries", 1))
    ):
        yield invalid(
            "dead_letter_queue", dlq, '{"topic": "<another topic>", "max_retries": integer >= 1}'
        )
    if route.auto_renew not in (None, True, False):
        yield invalid("auto_renew", route.auto_renew, "True, False or None (on where supported)")
    if not (isinstance(route.renew_fraction, float | int) and 0.1 <= route.renew_fraction <= 0.9):
        yield invalid("renew_fraction", route.renew_fraction, "a number from 0.1 to 0.9")
    if route.max_release_delay is not None and not _positive_int(route.max_release_delay):
        yield invalid("max_release_delay", route.max_release_delay, "ms >= 1")
    for option in ("atomic", "idempotent"):
        value = getattr(route, option)
        if value is not None and not isinstance(value, bool):
            yield invalid(option, value, "True, False or None (the consumer's)")
    if route.on_deserialization_error not in DESERIALIZATION_ERROR_POLICIES:
        yield invalid(
            "on_deserialization_error",
            route.on_deserialization_error,
            " | ".join(DESERIALIZATION_ERROR_POLICIES),
        )
    for option in route.options:
        yield Error(
            f"{where}: {option}={route.options[option]!r}: there is no topic option {option!r}.",
            hint="Topic options are listed in docs/routing.md; check the spelling.",
            id="sharegroups.E006",
        )


def _check_consumer(route: Topic, where: str) -> Iterable[Error]:
    from ..consumer import ShareGroupConsumer

    try:
        consumer = route.consumer_class()
    except ImportError as exc:
        yield Error(
            f"{where}: consumer {route.consumer!r} cannot be imported ({exc}).",
            hint="Use the dotted path of a ShareGroupConsumer subclass, or the class itself.",
            id="sharegroups.E001",
        )
        return
    if not (isinstance(consumer, type) and issubclass(consumer, ShareGroupConsumer)):
        yield Error(
            f"{where}: consumer {consumer!r} is not a ShareGroupConsumer subclass.",
            hint="Subclass django_sharegroups.ShareGroupConsumer and implement consume().",
            id="sharegroups.E002",
        )
        return
    from ..processing.transactions import declared

    if declared(route, consumer, "idempotent"):
        yield from _check_claiming_database(where)


def _check_claiming_database(where: str) -> Iterable[Error]:
    from django.db import DEFAULT_DB_ALIAS, connections

    from ..processing.transactions import CLAIMING_VENDORS

    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor not in CLAIMING_VENDORS:
        yield Error(
            f"{where}: idempotent consumers claim their records with INSERT ... ON CONFLICT DO "
            f"NOTHING RETURNING, which the default database ({vendor}) does not have.",
            hint="Use PostgreSQL or SQLite for the default database, or drop idempotent.",
            id="sharegroups.E010",
        )
