"""The record a task travels in: a JSON object with what a worker needs to run it.

``{"id", "task", "args", "kwargs", "priority", "queue", "backend", "run_after",
"enqueued_at"}`` — ``task`` is the import path of the ``Task`` object, times are milliseconds
since the epoch. The record key is the task id, so the DLQ and the admin can name it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ..exceptions import ShareGroupsError

FIELDS = ("id", "task", "args", "kwargs", "priority", "queue", "backend")


class InvalidTaskRecord(ShareGroupsError, ValueError):
    """A record on a task topic that is not a task this backend wrote."""


@dataclass(frozen=True)
class TaskEnvelope:
    id: str
    task: str
    args: list
    kwargs: dict[str, Any]
    priority: int
    queue: str
    backend: str
    run_after: int | None = None
    enqueued_at: int | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_payload(cls, payload: Any) -> TaskEnvelope:
        """From the JSON-decoded record value; ``InvalidTaskRecord`` says what is wrong."""
        if not isinstance(payload, dict):
            raise InvalidTaskRecord(f"a task record is a JSON object, not {type(payload).__name__}")
        missing = [name for name in FIELDS if name not in payload]
        if missing:
            raise InvalidTaskRecord(f"task record without {', '.join(missing)}")
        try:
            known = (*FIELDS, "run_after", "enqueued_at")
            return cls(**{name: payload[name] for name in known if name in payload})
        except TypeError as exc:
            raise InvalidTaskRecord(str(exc)) from exc

    def run_after_seconds(self) -> float | None:
        return None if self.run_after is None else self.run_after / 1000

    def deferred_at_enqueue(self, record_timestamp_ms: int | None) -> bool:
        """Was the task due only after it was produced? Then its first delivery was (almost
        always) a deferral, not a run; see ``attempt``."""
        if self.run_after is None:
            return False
        produced = record_timestamp_ms if record_timestamp_ms is not None else self.enqueued_at
        return produced is not None and produced < self.run_after

    def attempt(self, delivery_count: int, record_timestamp_ms: int | None) -> int:
        """The run number of this delivery: the broker's delivery count, less the delivery
        spent waiting for ``run_after`` by a delayed release."""
        spent = 1 if delivery_count > 1 and self.deferred_at_enqueue(record_timestamp_ms) else 0
        return delivery_count - spent


def to_millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int(moment.timestamp() * 1000)


def from_millis(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)
