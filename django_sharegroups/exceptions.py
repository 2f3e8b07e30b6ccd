"""Errors raised by django-sharegroups, rooted in one class so users can catch them all."""


class ShareGroupsError(Exception):
    """Base class of every django-sharegroups error."""


class ConfigurationError(ShareGroupsError):
    """Settings or routes that cannot work; raised at startup, never mid-consumption."""


class CapabilityError(ConfigurationError):
    """A feature needs a client-adapter capability that the selected adapter lacks."""


class NotSupportedError(ShareGroupsError):
    """An operation the selected client adapter cannot perform (e.g. RENEW on librdkafka)."""


class DeserializationError(ShareGroupsError, ValueError):
    """A record's payload, key or a header could not be decoded by the topic's deserializer."""
