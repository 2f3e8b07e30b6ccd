"""Broker and share-group configuration, with Kafka 4.4's names, defaults and bounds.

A group config (``share.record.lock.duration.ms``) falls back to its broker default
(``group.share.record.lock.duration.ms``) and must lie within the broker's min/max for it,
as Kafka checks in ``IncrementalAlterConfigs`` (error ``INVALID_CONFIG``). Lower the broker
minimums (``group.share.min.record.lock.duration.ms``) for tests that need short locks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...exceptions import ConfigurationError
from .errors import BrokerError

__all__ = [
    "AutoOffsetReset",
    "BrokerConfig",
    "GROUP_CONFIG_DEFAULTS_FROM_BROKER",
    "ShareLimits",
]

#: Broker-level settings the memory broker honours, with Kafka 4.4's defaults.
BROKER_DEFAULTS: dict[str, int | bool] = {
    "group.share.record.lock.duration.ms": 30_000,
    "group.share.min.record.lock.duration.ms": 15_000,
    "group.share.max.record.lock.duration.ms": 60_000,
    "group.share.delivery.count.limit": 5,
    "group.share.min.delivery.count.limit": 2,
    "group.share.max.delivery.count.limit": 10,
    "group.share.partition.max.record.locks": 2_000,
    "group.share.min.partition.max.record.locks": 100,
    "group.share.max.partition.max.record.locks": 4_000,
    "group.share.session.timeout.ms": 45_000,
    "group.share.min.session.timeout.ms": 45_000,
    "group.share.max.session.timeout.ms": 60_000,
    "group.share.heartbeat.interval.ms": 5_000,
    "group.share.min.heartbeat.interval.ms": 5_000,
    "group.share.max.heartbeat.interval.ms": 15_000,
    "group.share.max.size": 200,
    "num.partitions": 1,
    "auto.create.topics.enable": True,
}

#: Integer group configs: group key -> the broker key holding its default (min/max derive).
GROUP_CONFIG_DEFAULTS_FROM_BROKER: dict[str, str] = {
    "share.record.lock.duration.ms": "group.share.record.lock.duration.ms",
    "share.delivery.count.limit": "group.share.delivery.count.limit",
    "share.partition.max.record.locks": "group.share.partition.max.record.locks",
    "share.session.timeout.ms": "group.share.session.timeout.ms",
    "share.heartbeat.interval.ms": "group.share.heartbeat.interval.ms",
}

_ISOLATION_LEVELS = ("read_uncommitted", "read_committed")


@dataclass(frozen=True, slots=True)
class AutoOffsetReset:
    """``share.auto.offset.reset``: where a share partition starts when first fetched."""

    kind: str  # "earliest", "latest" or "by_duration"
    duration_ms: int | None = None

    @classmethod
    def parse(cls, value: object) -> AutoOffsetReset:
        if isinstance(value, AutoOffsetReset):
            return value
        text = str(value).strip().lower()
        if text in ("earliest", "latest"):
            return cls(text)
        if text.startswith("by_duration:"):
            return cls("by_duration", _parse_iso_duration_ms(text.split(":", 1)[1]))
        raise BrokerError(
            "INVALID_CONFIG",
            f"share.auto.offset.reset must be earliest, latest or by_duration:<ISO8601>, "
            f"not {value!r}",
        )

    def __str__(self) -> str:
        if self.kind == "by_duration":
            return f"by_duration:PT{(self.duration_ms or 0) / 1000:g}S"
        return self.kind


_ISO_DURATION = re.compile(
    r"^p(?:(?P<d>\d+)d)?(?:t(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?)?$"
)


def _parse_iso_duration_ms(text: str) -> int:
    match = _ISO_DURATION.match(text.strip().lower())
    if not match or not any(match.groupdict().values()) or text.strip().lower().endswith("t"):
        raise BrokerError(
            "INVALID_CONFIG", f"{text!r} is not an ISO8601 duration (PnDTnHnMn.nS, not negative)"
        )
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    seconds = parts["d"] * 86_400 + parts["h"] * 3_600 + parts["m"] * 60 + parts["s"]
    return round(seconds * 1000)


@dataclass(frozen=True, slots=True)
class ShareLimits:
    """The group configs a share partition needs for one operation, read at that moment."""

    lock_duration_ms: int
    delivery_count_limit: int
    max_record_locks: int
    renew_enabled: bool


class BrokerConfig:
    """Broker-level settings (Kafka names), validated; and the rules for group configs."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = dict(BROKER_DEFAULTS)
        try:
            for key, value in (overrides or {}).items():
                if key not in BROKER_DEFAULTS:
                    raise ConfigurationError(f"The in-memory broker has no setting {key!r}.")
                is_flag = key == "auto.create.topics.enable"
                values[key] = _parse_bool(value) if is_flag else _parse_int(key, value)
            self._values = values
            for group_key in GROUP_CONFIG_DEFAULTS_FROM_BROKER:
                self.validate_group_config(group_key, self.group_default(group_key))
        except BrokerError as error:
            raise ConfigurationError(f"Invalid in-memory broker config: {error.message}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def group_default(self, key: str) -> Any:
        if key in GROUP_CONFIG_DEFAULTS_FROM_BROKER:
            return self._values[GROUP_CONFIG_DEFAULTS_FROM_BROKER[key]]
        return _OTHER_GROUP_DEFAULTS[key]

    def group_config_keys(self) -> tuple[str, ...]:
        return (*GROUP_CONFIG_DEFAULTS_FROM_BROKER, *_OTHER_GROUP_DEFAULTS)

    def validate_group_config(self, key: str, value: Any) -> Any:
        """Return ``value`` parsed for ``key``; raise ``INVALID_CONFIG`` as Kafka would."""
        if key in GROUP_CONFIG_DEFAULTS_FROM_BROKER:
            return self._validate_bounded_int(key, value)
        if key not in _OTHER_GROUP_VALIDATORS:
            raise BrokerError(
                "INVALID_CONFIG", f"Unknown group config (or one the memory broker lacks): {key}"
            )
        return _OTHER_GROUP_VALIDATORS[key](value)

    def _validate_bounded_int(self, key: str, value: Any) -> int:
        broker_key = GROUP_CONFIG_DEFAULTS_FROM_BROKER[key]
        low_key = broker_key.replace("group.share.", "group.share.min.", 1)
        high_key = broker_key.replace("group.share.", "group.share.max.", 1)
        number = _parse_int(key, value)
        low, high = self._values[low_key], self._values[high_key]
        if not low <= number <= high:
            raise BrokerError(
                "INVALID_CONFIG",
                f"{key}={number} is outside [{low}, {high}] ({low_key}, {high_key})",
            )
        return number


def _parse_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BrokerError("INVALID_CONFIG", f"{key} must be an integer, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BrokerError("INVALID_CONFIG", f"{key} must be an integer, not {value!r}") from None


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise BrokerError("INVALID_CONFIG", f"expected true or false, not {value!r}")


def _parse_isolation_level(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in _ISOLATION_LEVELS:
        raise BrokerError(
            "INVALID_CONFIG", f"share.isolation.level must be one of {_ISOLATION_LEVELS}"
        )
    return text


_OTHER_GROUP_DEFAULTS: dict[str, Any] = {
    "share.auto.offset.reset": AutoOffsetReset("latest"),
    # The memory log has no transactions, so both levels read the same records.
    "share.isolation.level": "read_uncommitted",
    "share.renew.acknowledge.enable": True,
}

_OTHER_GROUP_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "share.auto.offset.reset": AutoOffsetReset.parse,
    "share.isolation.level": _parse_isolation_level,
    "share.renew.acknowledge.enable": _parse_bool,
}
