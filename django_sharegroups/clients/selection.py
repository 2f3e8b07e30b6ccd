"""The default adapter when Kafka is configured: ``native`` where the broker allows, else
``confluent``.

``native`` acquires exactly the records asked for (ShareFetch v2 in record-limit mode, KIP-1206)
and can RENEW; librdkafka cannot yet. So when ``SHAREGROUPS["CLIENT"]`` is not set and bootstrap
servers are, the broker is asked once (ApiVersions, on the first use of the factory: the
runner's preflight) whether it speaks what ``native`` needs; if not, or if the settings need a
security mechanism only librdkafka speaks, the process uses ``confluent`` and says so in one
log line. Setting ``CLIENT`` explicitly skips the question.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import ConfigurationError
from .base import RecordProducer, ShareConsumerClient, ShareConsumerClientFactory

logger = logging.getLogger("django_sharegroups.clients")

#: API key → lowest version ``native`` needs: ShareGroupHeartbeat v1, ShareFetch v2 (record
#: limit acquisition), ShareAcknowledge v2 (RENEW).
NATIVE_NEEDS = {76: 1, 78: 2, 79: 2}


def native_unsupported_reason(config: Mapping[str, Any]) -> str | None:
    """Why ``native`` cannot serve this cluster (None when it can); connects to ask."""
    from ..kafka.cluster import Cluster
    from ..kafka.config import ConnectionConfig
    from ..kafka.protocol.messages.share_consumer import (
        SHARE_ACKNOWLEDGE,
        SHARE_FETCH,
        SHARE_GROUP_HEARTBEAT,
    )

    try:
        connection_config = ConnectionConfig.from_dict(config)
    except ConfigurationError as error:
        return str(error)
    cluster = Cluster(connection_config)
    try:
        connection = cluster.connection()
        versions = connection.api_versions
    finally:
        cluster.close()
    for api in (SHARE_GROUP_HEARTBEAT, SHARE_FETCH, SHARE_ACKNOWLEDGE):
        needed = NATIVE_NEEDS[api.key]
        highest = versions.get(api.key, (0, -1))[1]
        if highest < needed:
            spoken = f"up to v{highest}" if highest >= 0 else "not at all"
            return f"the broker speaks {api.name} {spoken}; native needs v{needed}+"
    return None


class DefaultClientFactory(ShareConsumerClientFactory):
    """Delegates to a ``native`` or ``confluent`` factory, chosen on first use."""

    def __init__(self, settings: Any) -> None:
        self._settings = settings
        self._chosen: ShareConsumerClientFactory | None = None
        self._lock = threading.Lock()

    @property
    def chosen(self) -> ShareConsumerClientFactory:
        with self._lock:
            if self._chosen is None:
                self._chosen = self._choose()
            return self._chosen

    def _choose(self) -> ShareConsumerClientFactory:
        from .confluent import ConfluentClientFactory
        from .native import NativeClientFactory

        config = self._settings.kafka
        reason = native_unsupported_reason(config)
        if reason is None:
            logger.info("Share consumers use the 'native' client adapter (the default)")
            return NativeClientFactory(config)
        logger.warning(
            "Share consumers use the 'confluent' client adapter (librdkafka) instead of "
            "'native': %s. Set SHAREGROUPS['CLIENT'] to choose one explicitly.",
            reason,
        )
        return ConfluentClientFactory(config, self._settings.confluent_members)

    @property
    def client_class(self) -> type[ShareConsumerClient]:  # type: ignore[override]
        return self.chosen.client_class

    def producer(self) -> RecordProducer:
        return self.chosen.producer()

    def share_group_config(self, group_id: str) -> Mapping[str, Any]:
        return self.chosen.share_group_config(group_id)

    def preflight(self, group_ids: Sequence[str]) -> None:
        self.chosen.preflight(group_ids)

    def close(self) -> None:
        if self._chosen is not None:
            self._chosen.close()

    def create(
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> ShareConsumerClient:
        return self.chosen.create(group_id, client_id=client_id, overrides=overrides)


def factory_from_settings(settings: Any) -> DefaultClientFactory:
    if not settings.bootstrap_servers:
        raise ConfigurationError(
            "The default Kafka client adapter needs bootstrap servers: set "
            "KAFKA_BOOTSTRAP_SERVERS or SHAREGROUPS['KAFKA']['bootstrap.servers']."
        )
    return DefaultClientFactory(settings)
