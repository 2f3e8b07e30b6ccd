"""``SHAREGROUPS["MIRROR"]``: how much runtime state the reporter mirrors into models.

Each kind is ``"off"``, ``"sampled"`` (a stable ``sample_rate`` share of the records, picked by
hashing their coordinates so a lease does not flicker in and out) or ``"full"``. ``rollups``
(the per-minute counts behind the admin dashboards) is ``"off"`` or ``"full"``: counting every
acknowledgement batch is cheap, so it is never sampled. An unconfigured
project mirrors everything; settings built by hand (``ShareGroupsSettings(...)`` in tests)
mirror nothing unless they pass ``mirror=``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError
from ..setting_sections import parse_section

MODES = ("off", "sampled", "full")
KINDS = ("processes", "leases", "dead_letters", "archived")


def _one_mode(word: Any) -> dict[str, Any] | None:
    """``"off"``/``"sampled"``/``"full"`` for every kind; rollups are on unless it is "off"."""
    if not isinstance(word, str):
        return None
    return {**dict.fromkeys(KINDS, word), "rollups": "off" if word == "off" else "full"}


@dataclass(frozen=True)
class MirrorSettings:
    processes: str = "off"
    leases: str = "off"
    dead_letters: str = "off"
    archived: str = "off"
    #: Per-minute outcome counts per share group (ThroughputMinute): "off" or "full".
    rollups: str = "off"
    #: Share of records mirrored by a ``"sampled"`` kind.
    sample_rate: float = 0.1
    #: Seconds between the reporter's batched writes (and process heartbeats).
    interval: float = 1.0
    #: Events waiting per kind; beyond it new ones are dropped and counted, never waited for.
    queue_size: int = 10_000
    #: Bytes of a dead letter's payload kept (longer ones are cut and flagged as truncated).
    payload_limit: int = 64 * 1024
    #: Lease rows per process: the oldest held records (the rest are not mirrored).
    max_leases: int = 200
    #: Seconds without a heartbeat after which a process (and its leases) counts as stale.
    stale_after: float = 30.0
    #: Seconds ``sharegroups_cleanup`` keeps dead letters, archived records, stopped processes.
    retention: float = 30 * 24 * 3600.0
    #: Seconds ``sharegroups_cleanup`` keeps the per-minute rollups.
    rollup_retention: float = 7 * 24 * 3600.0

    @classmethod
    def from_setting(cls, value: dict[str, Any] | str | None) -> MirrorSettings:
        """Parse the setting: a dict (missing kinds are ``"full"``) or one mode for all kinds."""
        mirror = parse_section(
            cls,
            "MIRROR",
            value,
            defaults={**dict.fromkeys(KINDS, "full"), "rollups": "full"},
            shorthand=_one_mode,
        )
        mirror.validate()
        return mirror

    def validate(self) -> None:
        for kind in KINDS:
            if getattr(self, kind) not in MODES:
                raise ConfigurationError(
                    f"SHAREGROUPS['MIRROR'][{kind!r}] is {getattr(self, kind)!r}; "
                    f"expected one of {', '.join(MODES)}."
                )
        if self.rollups not in ("off", "full"):
            raise ConfigurationError(
                f"SHAREGROUPS['MIRROR']['rollups'] is {self.rollups!r}; expected 'off' or 'full'."
            )
        numbers = {
            "sample_rate": (0.0, 1.0),
            "interval": (0.01, None),
            "queue_size": (1, None),
            "max_leases": (1, None),
            "payload_limit": (0, None),
            "stale_after": (0.0, None),
            "retention": (0.0, None),
            "rollup_retention": (0.0, None),
        }
        for name, (low, high) in numbers.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < low
                or (high is not None and value > high)
            ):
                bounds = f">= {low}" + ("" if high is None else f" and <= {high}")
                raise ConfigurationError(
                    f"SHAREGROUPS['MIRROR'][{name!r}] is {value!r}; expected a number {bounds}."
                )

    @property
    def enabled(self) -> bool:
        return self.rollups != "off" or any(self.mode(kind) != "off" for kind in KINDS)

    def mode(self, kind: str) -> str:
        return getattr(self, kind)

    def keeps(self, kind: str, share_group: str, topic: str, partition: int, offset: int) -> bool:
        """Whether the record at these coordinates is mirrored for ``kind``."""
        mode = getattr(self, kind)
        if mode == "full":
            return True
        if mode == "off":
            return False
        digest = zlib.crc32(f"{share_group}\0{topic}\0{partition}\0{offset}".encode())
        return digest % 10_000 < self.sample_rate * 10_000
