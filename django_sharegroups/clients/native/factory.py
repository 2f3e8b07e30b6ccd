"""Building ``native`` members from settings; producing and admin go through the confluent path.

The native adapter replaces librdkafka only where librdkafka falls short (the share consumer:
no RENEW, no strict record limit). Producing for dead-letter queues (an idempotent librdkafka
producer) and reading group configs / checking the cluster before start (the project's Kafka
admin) are the same for both adapters, so the factory inherits them from the confluent one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...exceptions import ConfigurationError
from ..confluent import ConfluentClientFactory
from .consumer import NativeShareConsumer


class NativeClientFactory(ConfluentClientFactory):
    """Creates ``native`` members; ``producer()``, ``share_group_config()`` and ``preflight()``
    are the confluent factory's."""

    client_class = NativeShareConsumer  # type: ignore[assignment]  # shares the rest, not the type

    def create(  # type: ignore[override]
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> NativeShareConsumer:
        config = {**self.config, **(overrides or {}), "client.id": client_id}
        return NativeShareConsumer(group_id, config)


def factory_from_settings(settings: Any) -> NativeClientFactory:
    """The ``native`` adapter as the settings select it (needs bootstrap servers)."""
    if not settings.bootstrap_servers:
        raise ConfigurationError(
            "The 'native' client adapter needs Kafka: set KAFKA_BOOTSTRAP_SERVERS or "
            "SHAREGROUPS['KAFKA']['bootstrap.servers']."
        )
    return NativeClientFactory(settings.kafka)
