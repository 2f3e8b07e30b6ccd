"""``SHAREGROUPS["SUPERVISOR"]``: restarts and the health probe of ``--processes N``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError
from ..setting_sections import parse_section


@dataclass(frozen=True)
class SupervisorSettings:
    #: ``host:port`` of the HTTP probe (``/live``, ``/ready``, ``/status``); None = no probe.
    #: Port 0 picks a free port (logged at startup).
    probe: str | None = None
    #: Seconds before the first restart of a dead child; doubled per consecutive death.
    restart_backoff: float = 1.0
    restart_backoff_max: float = 30.0
    #: Consecutive deaths of one child after which the supervisor gives up (exit code 1).
    restart_limit: int = 5
    #: Seconds a child must run for its next death to count as the first again.
    stable_after: float = 60.0
    #: Seconds beyond ``SHUTDOWN_TIMEOUT`` a stopping child gets before it is killed.
    kill_grace: float = 10.0

    @classmethod
    def from_setting(cls, value: dict[str, Any] | None) -> SupervisorSettings:
        settings = parse_section(cls, "SUPERVISOR", value)
        if settings.restart_limit < 1 or settings.restart_backoff < 0:
            raise ConfigurationError(
                "SHAREGROUPS['SUPERVISOR']: restart_limit must be ≥ 1 and restart_backoff ≥ 0."
            )
        if settings.probe is not None:
            parse_address(settings.probe)
        return settings

    def backoff(self, deaths: int) -> float:
        """Seconds to wait before restarting a child that died ``deaths`` times in a row."""
        return min(self.restart_backoff * 2 ** max(deaths - 1, 0), self.restart_backoff_max)


def parse_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:8001"`` → ``("127.0.0.1", 8001)``; a clear error for anything else."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"Probe address {address!r} is not host:port (e.g. 127.0.0.1:8001, port 0 = any)."
        )
    return host.strip("[]"), int(port)
