"""Client adapters: one interface (``base``), one module per broker client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from ..conf import ShareGroupsSettings
    from .base import ShareConsumerClientFactory

#: Adapter name → dotted path of a callable(settings) returning its factory.
ADAPTERS: dict[str, str] = {
    # The default with Kafka: native where the broker speaks ShareFetch v2, else confluent.
    "auto": "django_sharegroups.clients.selection.factory_from_settings",
    "confluent": "django_sharegroups.clients.confluent.factory_from_settings",
    "memory": "django_sharegroups.clients.memory.factory_from_settings",
    "native": "django_sharegroups.clients.native.factory_from_settings",
}


def build_client_factory(name: str, settings: ShareGroupsSettings) -> ShareConsumerClientFactory:
    """The factory of adapter ``name``, imported only when used."""
    from ..exceptions import ConfigurationError

    try:
        path = ADAPTERS[name]
    except KeyError:
        raise ConfigurationError(
            f"Unknown client adapter {name!r}; choose one of {', '.join(ADAPTERS)}."
        ) from None
    return import_string(path)(settings)
