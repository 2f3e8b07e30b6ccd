"""django-sharegroups: Kafka share groups (KIP-932, "Queues for Kafka") for Django.

Declare share groups in an app's ``consumers.py``::

    from django_sharegroups import ShareGroupConsumer, share_group, topic

    class WebhookConsumer(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                deliver(message.payload)
                self.mark_accepted(message)

    share_group("webhooks", concurrency=4, topics=[topic("webhooks", consumer=WebhookConsumer)])

and run them with ``python manage.py runshareconsumers``.
"""

from .clients.base import AcknowledgeType, ProduceError
from .consumer import ShareGroupConsumer
from .exceptions import (
    CapabilityError,
    ConfigurationError,
    DeserializationError,
    NotSupportedError,
    ShareGroupsError,
)
from .kafka.errors import BrokerError, KafkaError
from .messages import Message, Messages
from .processing.acknowledgements import AcknowledgementError
from .processing.delay_topic import DelayTopicConsumer, release_to_delay_topic
from .routing import share_group, topic

__all__ = [
    "AcknowledgeType",
    "AcknowledgementError",
    "BrokerError",
    "CapabilityError",
    "ConfigurationError",
    "DelayTopicConsumer",
    "DeserializationError",
    "KafkaError",
    "Message",
    "Messages",
    "NotSupportedError",
    "ProduceError",
    "ShareGroupConsumer",
    "ShareGroupsError",
    "release_to_delay_topic",
    "share_group",
    "topic",
]
