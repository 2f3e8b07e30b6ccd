"""What Kafka accepts as a topic name and what this project accepts as a share-group name.

The system checks, the in-memory broker and anything else that validates a name ask here, so
the rule is written once.
"""

from __future__ import annotations

import re

_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")

#: Kafka's rule, as the system checks and the in-memory broker state it.
TOPIC_NAME_RULE = "1-249 characters of letters, digits, '.', '_' and '-', and not '.' or '..'"

#: Share-group names are stored in the mirrored models' 255-character columns.
GROUP_NAME_MAX_LENGTH = 255
GROUP_NAME_RULE = (
    f"a string of 1-{GROUP_NAME_MAX_LENGTH} characters without leading or trailing "
    "whitespace (e.g. 'webhook_processors')"
)


def is_topic_name(name: object) -> bool:
    """Whether Kafka accepts ``name`` as a topic name."""
    return isinstance(name, str) and bool(_TOPIC_NAME.fullmatch(name)) and name not in {".", ".."}


def is_group_name(name: object) -> bool:
    """Whether ``name`` can name a share group here (the broker accepts any non-empty id)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= GROUP_NAME_MAX_LENGTH
        and name == name.strip()
        and name.isprintable()
    )
