"""Connection settings read from a librdkafka-style dict, so the admin client can be given
the very dict the share consumers get (unknown keys such as ``group.id`` are ignored)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_sharegroups.exceptions import ConfigurationError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class ConnectionConfig:
    """How to reach and authenticate to the cluster.

    The two timeouts default lower than librdkafka's (30 s and 10 s instead of 60 s and
    30 s): the admin client answers web requests and management commands, which should fail
    quickly when a broker is unreachable rather than hang for a minute.
    """

    bootstrap_servers: tuple[tuple[str, int], ...]
    client_id: str = "django-sharegroups"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = None
    ssl_verify_certificate: bool = True
    ssl_check_hostname: bool = True
    request_timeout: float = 30.0
    """Seconds to wait for one response (``socket.timeout.ms``)."""
    connect_timeout: float = 10.0
    """Seconds to open, secure and authenticate one connection
    (``socket.connection.setup.timeout.ms``)."""
    retry_backoff: float = 0.1
    """Seconds before the first retry of a failed request (``retry.backoff.ms``); doubles per
    consecutive failure up to ``retry_backoff_max`` (``retry.backoff.max.ms``)."""
    retry_backoff_max: float = 1.0
    reconnect_backoff: float = 0.1
    """Seconds before reconnecting to a broker after a failed attempt
    (``reconnect.backoff.ms``); doubles per consecutive failure up to ``reconnect_backoff_max``
    (``reconnect.backoff.max.ms``)."""
    reconnect_backoff_max: float = 10.0

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> ConnectionConfig:
        """Read librdkafka keys (``bootstrap.servers``, ``security.protocol``, ``sasl.*``, ...)."""
        servers = settings.get("bootstrap.servers") or settings.get("metadata.broker.list")
        if not servers:
            raise ConfigurationError("Kafka settings need bootstrap.servers")
        protocol = str(settings.get("security.protocol", "PLAINTEXT")).upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigurationError(
                f"security.protocol {protocol!r} is not one of {SECURITY_PROTOCOLS}"
            )
        mechanism = str(settings.get("sasl.mechanism", settings.get("sasl.mechanisms", "PLAIN")))
        mechanism = mechanism.upper()
        if protocol.startswith("SASL") and mechanism not in SASL_MECHANISMS:
            raise ConfigurationError(
                f"sasl.mechanism {mechanism!r} is not supported by the admin client "
                f"(supported: {', '.join(SASL_MECHANISMS)})"
            )
        identification = str(settings.get("ssl.endpoint.identification.algorithm", "https"))
        return cls(
            bootstrap_servers=parse_bootstrap_servers(servers),
            client_id=str(settings.get("client.id", cls.client_id)),
            security_protocol=protocol,
            sasl_mechanism=mechanism,
            sasl_username=settings.get("sasl.username"),
            sasl_password=settings.get("sasl.password"),
            ssl_ca_location=settings.get("ssl.ca.location"),
            ssl_certificate_location=settings.get("ssl.certificate.location"),
            ssl_key_location=settings.get("ssl.key.location"),
            ssl_key_password=settings.get("ssl.key.password"),
            ssl_verify_certificate=_boolean(
                settings.get("enable.ssl.certificate.verification", True)
            ),
            ssl_check_hostname=identification.lower() != "none",
            request_timeout=_milliseconds(settings, "socket.timeout.ms", 30_000),
            connect_timeout=_milliseconds(settings, "socket.connection.setup.timeout.ms", 10_000),
            retry_backoff=_milliseconds(settings, "retry.backoff.ms", 100),
            retry_backoff_max=_milliseconds(settings, "retry.backoff.max.ms", 1000),
            reconnect_backoff=_milliseconds(settings, "reconnect.backoff.ms", 100),
            reconnect_backoff_max=_milliseconds(settings, "reconnect.backoff.max.ms", 10_000),
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ssl_ca_location)
        if not self.ssl_verify_certificate:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context.check_hostname = self.ssl_check_hostname
        if self.ssl_certificate_location:
            context.load_cert_chain(
                self.ssl_certificate_location,
                self.ssl_key_location,
                self.ssl_key_password,
            )
        return context


def parse_bootstrap_servers(
    servers: str | list[str] | tuple[str, ...],
) -> tuple[tuple[str, int], ...]:
    """``"host1:9092,host2"`` → ``(("host1", 9092), ("host2", 9092))``; IPv6 as ``[::1]:9092``."""
    entries = servers.split(",") if isinstance(servers, str) else list(servers)
    parsed = []
    for entry in entries:
        entry = entry.strip()
        if "://" in entry:
            entry = entry.split("://", 1)[1]
        if not entry:
            continue
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest.lstrip(":") or "9092"
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        else:
            host, port = entry, "9092"
        try:
            parsed.append((host, int(port)))
        except ValueError:
            raise ConfigurationError(f"bad bootstrap server {entry!r}") from None
    if not parsed:
        raise ConfigurationError("bootstrap.servers lists no server")
    return tuple(parsed)


def _milliseconds(settings: Mapping[str, Any], key: str, default: int) -> float:
    try:
        return int(settings.get(key, default)) / 1000
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number of milliseconds") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
