"""The engine tests' consumer that records what it saw; their helpers are tests/helpers.py's."""

from __future__ import annotations

import threading

from django_sharegroups import ShareGroupConsumer

# One implementation each, in tests/helpers.py; the names stay importable from here.
from ..helpers import declare, events_of, prepare, produce, running  # noqa: F401


class Recording(ShareGroupConsumer):
    """Accepts everything and records what it saw; subclass to change behaviour."""

    seen: list
    lock = threading.Lock()

    def consume(self, messages):
        for message in messages:
            with self.lock:
                type(self).seen.append(message)
            self.mark_accepted(message)


def recording_consumer():
    return type("Recorder", (Recording,), {"seen": []})
