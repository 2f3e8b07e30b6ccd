"""At startup: give each share group the broker-side DLQ it asks for (KIP-1191).

For every group that wants one (its ``dead_letter_queue``, else ``SHAREGROUPS["BROKER_DLQ"]``),
where the cluster supports it (feature ``share.version`` >= 2): check the topic name against the
broker's prefix rule, create the DLQ topic with ``errors.deadletterqueue.group.enable=true`` when
it is missing (an existing topic must carry that config), then set the group configs
``errors.deadletterqueue.topic.name`` and ``errors.deadletterqueue.copy.record.enable``. Changes
go through the audit log (source "runshareconsumers"). A group that asked explicitly fails
startup when this cannot be done; the project-wide "auto" default only logs a warning.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence

from django.db import DatabaseError

from ..conf import ShareGroupsSettings
from ..exceptions import ConfigurationError
from ..kafka import KafkaError, ShareGroupAdmin
from ..kafka.topics import broker_configs, create_topic, topic_configs, topic_exists
from .settings import (
    COPY_RECORD,
    TOPIC_ENABLE,
    TOPIC_NAME,
    TOPIC_PREFIX,
    GroupDLQ,
    group_request,
)

logger = logging.getLogger("django_sharegroups.broker_dlq")

#: "auto" is the default with Kafka: native where it can serve the config, else confluent.
KAFKA_ADAPTERS = ("auto", "confluent", "native")
#: share.version level that adds the broker-side DLQ.
DLQ_SHARE_VERSION = 2


def configure_broker_dlq(share_groups: Sequence, settings: ShareGroupsSettings) -> dict[str, str]:
    """Configure the groups' broker DLQs; returns ``{share group: DLQ topic}`` to watch."""
    wanted = {}
    for group in share_groups:
        if (group.client or settings.client) not in KAFKA_ADAPTERS:
            if isinstance(group.dead_letter_queue, dict) or group.dead_letter_queue is True:
                raise ConfigurationError(
                    f"dead_letter_queue on share group {group.name!r} is the broker's DLQ; the "
                    f"'{group.client or settings.client}' client adapter has no Kafka broker."
                )
            continue
        if group.dead_letter_queue is False:
            continue
        if group.dead_letter_queue is None and settings.broker_dlq.enabled is False:
            continue
        wanted[group.name] = group.dead_letter_queue
    if not wanted:
        return {}
    with ShareGroupAdmin(settings.kafka) as admin:
        level = admin.finalized_features().get("share.version", 0)
        prefix = broker_configs(admin, [TOPIC_PREFIX]).get(TOPIC_PREFIX) or ""
        topics = {}
        for name, declared in wanted.items():
            request = group_request(declared, settings.broker_dlq, name, prefix)
            if request is None:
                continue
            try:
                try:
                    topics[name] = configure_group(admin, name, request, level, prefix, settings)
                except DatabaseError as error:
                    raise ConfigurationError(
                        f"the audit log needs the database ({error}); has `manage.py migrate` run?"
                    ) from error
            except (ConfigurationError, KafkaError) as error:
                if request.required:
                    raise
                logger.warning("Share group %r has no broker-side DLQ: %s", name, error)
    return {name: topic for name, topic in topics.items() if topic}


def configure_group(
    admin: ShareGroupAdmin,
    group: str,
    request: GroupDLQ,
    level: int,
    prefix: str,
    settings: ShareGroupsSettings,
) -> str:
    if level < DLQ_SHARE_VERSION:
        raise ConfigurationError(
            f"the cluster's feature share.version is {level}; the broker-side DLQ (KIP-1191) "
            f"needs {DLQ_SHARE_VERSION}: kafka-features.sh --bootstrap-server ... upgrade "
            f"--feature share.version={DLQ_SHARE_VERSION} (Kafka 4.4+), or use a route's "
            "client-side dead_letter_queue"
        )
    current = dead_letter_queue_configs(admin, group)
    if not request.required and current.get(TOPIC_NAME) not in (None, "", request.topic):
        logger.info(
            "Share group %r keeps the DLQ topic %r set on the broker", group, current[TOPIC_NAME]
        )
        return current[TOPIC_NAME] or ""
    from ..admin_tools.actions import Actor, Source

    actor = Actor(f"runshareconsumers {socket.gethostname()}:{os.getpid()}", Source.RUNTIME)
    changes = set_dead_letter_queue(
        admin, group, request.topic, request.copy_record, prefix, settings, actor, current
    )
    logger.info(
        "Share group %r: broker-side DLQ topic %r (%s)", group, request.topic, changes or "kept"
    )
    return request.topic or ""


def set_dead_letter_queue(
    admin: ShareGroupAdmin,
    group: str,
    topic: str | None,
    copy_record: bool | None,
    prefix: str,
    settings: ShareGroupsSettings,
    actor,
    current: dict[str, str | None] | None = None,
) -> dict[str, str | None]:
    """Point ``group``'s DLQ at ``topic`` (None: switch it off), creating the topic when it is
    missing; audited. Returns the config changes made (empty when all was in place)."""
    if current is None:
        current = dead_letter_queue_configs(admin, group)
    created = False
    if topic is None:
        changes: dict[str, str | None] = {TOPIC_NAME: None, COPY_RECORD: None}
        changes = {name: None for name in changes if current.get(name) not in (None, "")}
    else:
        check_topic_name(topic, prefix)
        created = ensure_topic(admin, topic, settings, dry_run=True)
        changes = {TOPIC_NAME: topic}
        if copy_record is not None:
            changes[COPY_RECORD] = "true" if copy_record else "false"
        changes = {name: value for name, value in changes.items() if current.get(name) != value}
    if not changes and not created:
        return {}
    from ..admin_tools.actions import Action, audited

    parameters = {
        "set": {name: value for name, value in changes.items() if value is not None},
        "unset": sorted(name for name, value in changes.items() if value is None),
        "created_topic": topic if created else None,
    }
    with audited(actor, Action.ALTER_CONFIG, group, parameters, before=current) as entry:
        if created and topic is not None:
            ensure_topic(admin, topic, settings)
        if changes:
            admin.alter_share_group_config(group, changes)
        entry.after = configs_once_visible(admin, group, changes)
    return changes


def configs_once_visible(
    admin: ShareGroupAdmin, group: str, changes: dict[str, str | None], timeout: float = 10.0
) -> dict[str, str | None]:
    """The group's DLQ configs after ``changes``: the broker answering DescribeConfigs learns
    them from the metadata log, which can lag the IncrementalAlterConfigs response a little."""
    deadline = time.monotonic() + timeout
    while True:
        current = dead_letter_queue_configs(admin, group)
        visible = all(
            current.get(name) == value if value is not None else not current.get(TOPIC_NAME)
            for name, value in changes.items()
        )
        if visible or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def dead_letter_queue_configs(admin: ShareGroupAdmin, group: str) -> dict[str, str | None]:
    return {
        name: entry.value
        for name, entry in admin.describe_share_group_config(group).items()
        if name in (TOPIC_NAME, COPY_RECORD)
    }


def check_topic_name(topic: str, prefix: str) -> None:
    if topic.startswith("__"):
        raise ConfigurationError(f"DLQ topic {topic!r}: names starting with '__' are internal")
    if prefix and not topic.startswith(prefix):
        raise ConfigurationError(
            f"DLQ topic {topic!r} does not start with the broker's prefix {prefix!r} "
            f"({TOPIC_PREFIX}); the broker would not write to it"
        )


def ensure_topic(
    admin: ShareGroupAdmin, topic: str, settings: ShareGroupsSettings, *, dry_run: bool = False
) -> bool:
    """True when the topic is missing (and, unless ``dry_run``, was created now)."""
    if topic_exists(admin, topic):
        enabled = topic_configs(admin, topic, [TOPIC_ENABLE]).get(TOPIC_ENABLE)
        if enabled != "true":
            raise ConfigurationError(
                f"DLQ topic {topic!r} exists without {TOPIC_ENABLE}=true, so the broker will "
                "not write to it: kafka-configs.sh --bootstrap-server ... --alter --entity-type "
                f"topics --entity-name {topic} --add-config {TOPIC_ENABLE}=true"
            )
        return False
    if not dry_run:
        create_topic(
            admin,
            topic,
            partitions=settings.broker_dlq.partitions,
            replication_factor=settings.broker_dlq.replication_factor,
            configs={TOPIC_ENABLE: "true"},
        )
    return True
