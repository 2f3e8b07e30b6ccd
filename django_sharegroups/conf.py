"""Settings of django-sharegroups: one ``SHAREGROUPS`` dict in Django settings, plus environment.

Every key has a default, so an empty project works against the in-memory broker. Connection
settings are librdkafka keys (``bootstrap.servers``, ``security.protocol``, ...) and go to every
client unchanged; ``KAFKA_BOOTSTRAP_SERVERS`` in the environment fills in ``bootstrap.servers``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings

from .broker_dlq.settings import OFF as BROKER_DLQ_OFF
from .broker_dlq.settings import BrokerDLQSettings
from .mirroring.settings import MirrorSettings
from .runtime.supervisor_settings import SupervisorSettings

DEFAULTS: dict[str, Any] = {
    # Client adapter: "native" (the project's own share consumer), "confluent" (librdkafka),
    # "memory" (in-process) or None = "auto" when bootstrap servers are configured (native
    # where the broker speaks ShareFetch v2, else confluent), memory otherwise.
    "CLIENT": None,
    # librdkafka configuration passed to every share consumer (and later producers/admin).
    "KAFKA": {},
    # librdkafka members behind each share consumer of the "confluent" adapter; with 2, one's
    # poll is at the broker while the other's records are processed (docs/native.md).
    "CONFLUENT_MEMBERS": 2,
    # Seconds a stopping process waits for running jobs before giving up.
    "SHUTDOWN_TIMEOUT": 30.0,
    # Seconds one poll waits for records before the loop checks for shutdown again.
    "POLL_TIMEOUT": 0.5,
    # Seconds a share group may have no live instance (its listeners keep dying or its polls
    # keep failing) before runshareconsumers gives up and exits with code 3.
    "GROUP_DOWN_TIMEOUT": 60.0,
    # Dotted path of the sample-record callable used by ``runshareconsumers --demo``.
    "DEMO_RECORDS": None,
    # Seconds a ProcessedRecord row of an idempotent consumer is kept (`sharegroups_cleanup`).
    "PROCESSED_RECORD_RETENTION": 7 * 24 * 3600,
    # State mirrored into models per kind ("off" | "sampled" | "full"); see docs/orm.md.
    "MIRROR": {},
    # Port of the Prometheus /metrics endpoint runshareconsumers serves (None = none); needs
    # the `metrics` extra. See docs/metrics.md.
    "METRICS_PORT": None,
    # Address that endpoint binds to: loopback unless you mean to expose it.
    "METRICS_ADDRESS": "127.0.0.1",
    # Seconds between reads of the groups' per-partition SPSO and lag from the broker for
    # /metrics (by the process that serves it); 0 = none.
    "METRICS_OFFSETS_INTERVAL": 30.0,
    # OpenTelemetry tracing of jobs (True/"otel", or False); needs the `otel` extra. See
    # docs/metrics.md.
    "TRACING": False,
    # Seconds between runshareconsumers' summary lines (one per share group at INFO); 0 = none.
    "SUMMARY_INTERVAL": 60.0,
    # The broker-side DLQ of KIP-1191 ("auto", True, False or a dict); see docs/dead-letters.md.
    "BROKER_DLQ": "auto",
    # Worker processes of ``runshareconsumers`` (``--processes``); more than 1 = a supervisor.
    "PROCESSES": 1,
    # Restarts and the health probe of the supervisor; see docs/deployment.md.
    "SUPERVISOR": {},
}


@dataclass(frozen=True)
class ShareGroupsSettings:
    """The resolved settings; build with :func:`get_settings`."""

    client: str
    kafka: dict[str, Any] = field(default_factory=dict)
    confluent_members: int = 2
    shutdown_timeout: float = 30.0
    poll_timeout: float = 0.5
    group_down_timeout: float = 60.0
    demo_records: str | None = None
    processed_record_retention: float = 7 * 24 * 3600.0
    #: Built by hand (tests), settings mirror nothing; ``get_settings()`` mirrors everything.
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"
    metrics_offsets_interval: float = 30.0
    summary_interval: float = 60.0
    tracing: bool = False
    #: Built by hand, settings leave the broker DLQ alone; ``get_settings()`` uses "auto".
    broker_dlq: BrokerDLQSettings = BROKER_DLQ_OFF
    processes: int = 1
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)

    @property
    def bootstrap_servers(self) -> str | None:
        return self.kafka.get("bootstrap.servers")


def get_settings() -> ShareGroupsSettings:
    """Read ``settings.SHAREGROUPS`` and the environment, filling in defaults."""
    user = getattr(django_settings, "SHAREGROUPS", {}) or {}
    unknown = set(user) - set(DEFAULTS)
    if unknown:
        from .exceptions import ConfigurationError

        raise ConfigurationError(
            f"Unknown SHAREGROUPS setting(s): {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(DEFAULTS))}."
        )
    merged = {**DEFAULTS, **user}
    kafka = dict(merged["KAFKA"] or {})
    env_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env_bootstrap and "bootstrap.servers" not in kafka:
        kafka["bootstrap.servers"] = env_bootstrap
    if not isinstance(merged["PROCESSES"], int) or merged["PROCESSES"] < 1:
        from .exceptions import ConfigurationError

        raise ConfigurationError(
            f"SHAREGROUPS['PROCESSES'] must be a whole number ≥ 1, not {merged['PROCESSES']!r}."
        )
    members = merged["CONFLUENT_MEMBERS"]
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        from .exceptions import ConfigurationError

        raise ConfigurationError(
            f"SHAREGROUPS['CONFLUENT_MEMBERS'] must be a whole number ≥ 1, not {members!r}."
        )
    if merged["TRACING"] not in (True, False, None, "otel"):
        from .exceptions import ConfigurationError

        raise ConfigurationError(
            f"SHAREGROUPS['TRACING'] must be True, 'otel' or False, not {merged['TRACING']!r}."
        )
    client = merged["CLIENT"] or ("auto" if kafka.get("bootstrap.servers") else "memory")
    return ShareGroupsSettings(
        client=client,
        kafka=kafka,
        confluent_members=members,
        shutdown_timeout=float(merged["SHUTDOWN_TIMEOUT"]),
        poll_timeout=float(merged["POLL_TIMEOUT"]),
        group_down_timeout=float(merged["GROUP_DOWN_TIMEOUT"]),
        demo_records=merged["DEMO_RECORDS"],
        processed_record_retention=float(merged["PROCESSED_RECORD_RETENTION"]),
        mirror=MirrorSettings.from_setting(merged["MIRROR"]),
        metrics_port=None if merged["METRICS_PORT"] is None else int(merged["METRICS_PORT"]),
        metrics_address=str(merged["METRICS_ADDRESS"]),
        metrics_offsets_interval=float(merged["METRICS_OFFSETS_INTERVAL"] or 0),
        summary_interval=float(merged["SUMMARY_INTERVAL"] or 0),
        tracing=bool(merged["TRACING"]),
        broker_dlq=BrokerDLQSettings.from_setting(merged["BROKER_DLQ"]),
        processes=int(merged["PROCESSES"]),
        supervisor=SupervisorSettings.from_setting(merged["SUPERVISOR"]),
    )
