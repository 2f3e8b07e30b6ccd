"""Routes: share groups, their topics and the registry they are declared into."""

from .registry import RouteRegistry, registry
from .share_group import PRIORITY_POLL_INTERVALS_MS, ShareGroup, share_group
from .topic import Topic, topic

__all__ = [
    "PRIORITY_POLL_INTERVALS_MS",
    "RouteRegistry",
    "ShareGroup",
    "Topic",
    "registry",
    "share_group",
    "topic",
]
