"""A topic route: which consumer class processes a topic, and how records are grouped into jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from ..processing.jobs_builders import BUILDERS

#: Jobs builders the engine knows by name; a callable is accepted too (``custom``).
JOBS_BUILDERS = tuple(BUILDERS)
#: What happens to a record whose payload cannot be deserialized.
DESERIALIZATION_ERROR_POLICIES = ("reject", "release")
#: ``explicit``: the consumer marks each message. ``implicit``: return = ACCEPT all,
#: exception = REJECT all (what is still unacknowledged).
ACKNOWLEDGEMENT_MODES = ("explicit", "implicit")


@dataclass
class Topic:
    """Routing of one topic inside a share group. Built with :func:`topic`; validated by checks.

    Values are stored as declared, even wrong ones, so that ``manage.py check`` can report every
    mistake at once instead of the first one raising at import time.
    """

    name: Any
    consumer: Any
    jobs_builder: Any = "per_message"
    max_messages_per_job: Any = 1
    deserializer: Any = "json"
    key_deserializer: Any = "raw"
    headers_deserializer: Any = "raw"
    on_deserialization_error: Any = "reject"
    acknowledgement: Any = None
    filter: Any = None
    dead_letter_queue: Any = None
    auto_renew: Any = None
    renew_fraction: Any = 0.7
    max_release_delay: Any = None
    atomic: Any = None
    idempotent: Any = None
    options: dict[str, Any] = field(default_factory=dict)

    def consumer_class(self) -> type:
        """The consumer class, importing it first when it was declared as a dotted path."""
        if isinstance(self.consumer, str):
            return import_string(self.consumer)
        return self.consumer

    def acknowledgement_mode(self) -> str:
        """The topic's ``acknowledgement``, else the consumer class's, else ``explicit``."""
        return self.acknowledgement or getattr(self.consumer_class(), "acknowledgement", "explicit")


def topic(
    name: str,
    *,
    consumer: type | str,
    jobs_builder: str | Callable = "per_message",
    max_messages_per_job: int = 1,
    deserializer: str | Callable[[bytes | None], Any] = "json",
    key_deserializer: str | Callable[[bytes | None], Any] = "raw",
    headers_deserializer: str | Callable[[bytes | None], Any] = "raw",
    on_deserialization_error: str = "reject",
    acknowledgement: str | None = None,
    filter: Callable[[Any], bool] | None = None,
    dead_letter_queue: dict[str, Any] | None = None,
    auto_renew: bool | None = None,
    renew_fraction: float = 0.7,
    max_release_delay: int | None = None,
    atomic: bool | None = None,
    idempotent: bool | None = None,
    **options: Any,
) -> Topic:
    """Declare a topic route for :func:`share_group`.

    ``consumer`` is a :class:`~django_sharegroups.ShareGroupConsumer` subclass or its dotted
    path. ``deserializer`` (payload), ``key_deserializer`` and ``headers_deserializer`` (each
    header value) are ``"json"``, ``"string"``, ``"raw"`` or a callable taking the bytes.
    ``acknowledgement`` is ``"explicit"`` or ``"implicit"`` (default: the consumer class's
    ``acknowledgement`` attribute). ``filter(message) -> bool`` drops records before
    ``consume``; dropped records are ACCEPTed and counted.

    ``dead_letter_queue={"topic": "events-dlq", "max_retries": 3}`` sends a record that fails
    on its 3rd delivery (or later) to the DLQ topic and REJECTs it. ``auto_renew`` (default: on
    where the adapter can RENEW) renews held records every ``renew_fraction`` of the lock.
    ``max_release_delay`` (ms) is the longest ``mark_released(m, delay=...)`` you intend; on an
    adapter without RENEW it must fit the group's lock duration (checked at startup).

    ``atomic=True`` runs each job in ``transaction.atomic()`` and lets its ACCEPTs count only
    if it commits; ``idempotent=True`` (implies atomic) also skips records already processed
    (docs/orm.md). Both default to the consumer class's ``atomic``/``idempotent`` attributes.
    """
    return Topic(
        name=name,
        consumer=consumer,
        jobs_builder=jobs_builder,
        max_messages_per_job=max_messages_per_job,
        deserializer=deserializer,
        key_deserializer=key_deserializer,
        headers_deserializer=headers_deserializer,
        on_deserialization_error=on_deserialization_error,
        acknowledgement=acknowledgement,
        filter=filter,
        dead_letter_queue=dead_letter_queue,
        auto_renew=auto_renew,
        renew_fraction=renew_fraction,
        max_release_delay=max_release_delay,
        atomic=atomic,
        idempotent=idempotent,
        options=options,
    )
