"""``SHAREGROUPS["BROKER_DLQ"]``: whether and how groups get the broker-side DLQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError
from ..setting_sections import parse_section

#: Group configs of KIP-1191.
TOPIC_NAME = "errors.deadletterqueue.topic.name"
COPY_RECORD = "errors.deadletterqueue.copy.record.enable"
#: Topic config a DLQ topic needs before the broker writes to it.
TOPIC_ENABLE = "errors.deadletterqueue.group.enable"
#: Broker configs.
TOPIC_PREFIX = "errors.deadletterqueue.topic.name.prefix"
AUTO_CREATE = "errors.deadletterqueue.auto.create.topics.enable"


@dataclass(frozen=True)
class BrokerDLQSettings:
    #: "auto": every group where the broker supports it, keeping a DLQ topic an operator set;
    #: True: required (startup fails where unsupported); False: never touch group configs.
    enabled: Any = "auto"
    #: The DLQ topic of a group without its own: ``{prefix}`` is the broker's required prefix.
    topic: str = "{prefix}{group}"
    #: Copy key and value into the DLQ record (replay needs them).
    copy_record: bool = True
    #: For a DLQ topic this process creates; -1 leaves it to the broker's defaults.
    partitions: int = -1
    replication_factor: int = -1
    #: Mirror DLQ records into DeadLetter rows from ``runshareconsumers``.
    watch: bool = True
    #: Consumer group of the watchers (one member per process; Kafka splits the partitions).
    watcher_group: str = "django-sharegroups-dlq-watcher"

    @classmethod
    def from_setting(cls, value: dict[str, Any] | bool | str | None) -> BrokerDLQSettings:
        """A dict of the fields above, or just ``enabled``: True, False or "auto"."""
        settings = parse_section(cls, "BROKER_DLQ", value, shorthand=_enabled_word)
        if settings.enabled not in (True, False, "auto"):
            raise ConfigurationError(
                "SHAREGROUPS['BROKER_DLQ']['enabled'] must be True, False or 'auto'."
            )
        return settings


def _enabled_word(value: Any) -> dict[str, Any] | None:
    return {"enabled": value} if isinstance(value, bool) or value == "auto" else None


#: What settings built by hand (tests) get: the broker DLQ is left alone.
OFF = BrokerDLQSettings(enabled=False, watch=False)


@dataclass(frozen=True)
class GroupDLQ:
    """What one group asks for: its ``dead_letter_queue`` merged over the project default."""

    topic: str | None
    copy_record: bool
    required: bool


def group_request(
    declared: Any, settings: BrokerDLQSettings, group: str, prefix: str
) -> GroupDLQ | None:
    """None when this group gets no broker DLQ; ``declared`` is ``share_group(...,
    dead_letter_queue=...)``: None (project default), False, True or a dict."""
    if declared is False or (declared is None and settings.enabled is False):
        return None
    options = declared if isinstance(declared, dict) else {}
    explicit = declared is not None or settings.enabled is True
    topic = options.get("topic") or settings.topic.format(prefix=prefix, group=group)
    copy_record = bool(options.get("copy_record", settings.copy_record))
    return GroupDLQ(topic=topic, copy_record=copy_record, required=explicit)
