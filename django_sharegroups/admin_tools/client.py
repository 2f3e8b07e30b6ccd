"""The share-group admin client, configured like the share consumers."""

from __future__ import annotations

from ..conf import ShareGroupsSettings, get_settings
from ..exceptions import ConfigurationError
from ..kafka import ShareGroupAdmin


def open_admin(settings: ShareGroupsSettings | None = None) -> ShareGroupAdmin:
    """A :class:`ShareGroupAdmin` on the cluster of ``SHAREGROUPS["KAFKA"]``; close it after use.

    The in-memory broker has no wire protocol, so without bootstrap servers there is nothing
    to administer: that is a configuration error with the fix in its message.
    """
    settings = settings or get_settings()
    if not settings.bootstrap_servers:
        raise ConfigurationError(
            "Share-group administration needs a Kafka cluster: set KAFKA_BOOTSTRAP_SERVERS or "
            "SHAREGROUPS['KAFKA']['bootstrap.servers']."
        )
    return ShareGroupAdmin(settings.kafka)
