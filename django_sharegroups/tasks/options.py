"""The backend's OPTIONS: where each queue's tasks go, how they are retried, what is stored.

::

    TASKS = {
        "default": {
            "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
            "QUEUES": ["default", "emails"],
            "OPTIONS": {
                "queues": {"emails": {"topic": "emails", "concurrency": 4}},
                "max_attempts": 3,
            },
        }
    }

Every key has a default; a queue not named under ``queues`` gets topic and share group
``tasks.<queue>``. Unknown keys are a configuration error, so a typo is never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError
from ..routing.share_group import PRIORITY_POLL_INTERVALS_MS

#: Priority bands: band name → the lowest task priority it takes (up to the next band's).
#: A band is a topic and a share group of its own, polled at the seed's interval for its name.
DEFAULT_PRIORITY_BANDS = {"high": 1, "normal": 0, "low": -50, "background": -100}

QUEUE_KEYS = {
    "topic",
    "share_group",
    "concurrency",
    "workers_per_consumer",
    "tasks_per_job",
    "client",
    "kafka",
}
OPTION_KEYS = {
    "queues",
    "priority_bands",
    "max_attempts",
    "retry_backoff_ms",
    "retry_backoff_max_ms",
    "max_release_delay_ms",
    "delay_topic",
    "results",
    "enqueue_on_commit",
}


@dataclass(frozen=True)
class QueueOptions:
    """One task queue: its topic and share group (the ``normal`` band's; other bands add
    ``.<band>``), and how many consumer threads each band runs."""

    name: str
    topic: str
    share_group: str
    concurrency: int = 1
    workers_per_consumer: int = 1
    #: Tasks one job runs one after the other (1: a job per task). More saves polls on
    #: short tasks; each task is still acknowledged on its own.
    tasks_per_job: int = 1
    client: str | None = None
    kafka: dict[str, Any] = field(default_factory=dict)

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}.dlq"

    def band_topic(self, band: str) -> str:
        return self.topic if band == "normal" else f"{self.topic}.{band}"

    def band_share_group(self, band: str) -> str:
        return self.share_group if band == "normal" else f"{self.share_group}.{band}"


@dataclass(frozen=True)
class BackendOptions:
    queues: dict[str, QueueOptions]
    #: Band name → lowest priority, highest band first.
    priority_bands: dict[str, int]
    #: Runs of a task (first run included) before it is dead-lettered.
    max_attempts: int = 3
    #: Delay before retry n is ``retry_backoff_ms * 2 ** (n - 1)``, at most the maximum.
    retry_backoff_ms: int = 1000
    retry_backoff_max_ms: int = 10_000
    #: ``run_after`` closer than this is a delayed RELEASE; later, a trip through the delay topic.
    max_release_delay_ms: int = 10_000
    delay_topic: str = "tasks.delay"
    #: Store results in the ``sharegroups_tasks`` models (None: when that app is installed).
    results: bool | None = None
    #: Produce on ``transaction.on_commit`` instead of at once.
    enqueue_on_commit: bool = False

    def band(self, priority: int) -> str:
        """The band that serves a task of ``priority`` (the lowest band takes anything below)."""
        for name, lowest in self.priority_bands.items():
            if priority >= lowest:
                return name
        return next(reversed(self.priority_bands))

    def retry_delay_ms(self, attempt: int) -> int:
        """Backoff after failed run number ``attempt`` (1 = the first run)."""
        return min(self.retry_backoff_ms * 2 ** (attempt - 1), self.retry_backoff_max_ms)


def parse_options(alias: str, queue_names: set[str], options: Mapping[str, Any]) -> BackendOptions:
    where = f"TASKS[{alias!r}]['OPTIONS']"
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise ConfigurationError(
            f"Unknown key(s) in {where}: {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(sorted(OPTION_KEYS))}."
        )
    declared = dict(options.get("queues") or {})
    missing = set(declared) - queue_names
    if missing:
        raise ConfigurationError(
            f"{where}['queues'] names {', '.join(sorted(missing))}, which QUEUES does not list."
        )
    queues = {}
    for name in sorted(queue_names):
        spec = dict(declared.get(name) or {})
        bad = set(spec) - QUEUE_KEYS
        if bad:
            raise ConfigurationError(
                f"Unknown key(s) in {where}['queues'][{name!r}]: {', '.join(sorted(bad))}. "
                f"Known: {', '.join(sorted(QUEUE_KEYS))}."
            )
        topic = spec.pop("topic", f"tasks.{name}")
        share_group = spec.pop("share_group", topic)
        queues[name] = QueueOptions(name=name, topic=topic, share_group=share_group, **spec)
    bands = dict(options.get("priority_bands") or DEFAULT_PRIORITY_BANDS)
    if not bands or not all(isinstance(v, int) for v in bands.values()):
        raise ConfigurationError(f"{where}['priority_bands'] maps band names to priorities.")
    if "normal" not in bands:
        raise ConfigurationError(f"{where}['priority_bands'] needs a 'normal' band.")
    unknown_bands = set(bands) - set(PRIORITY_POLL_INTERVALS_MS)
    if unknown_bands:
        raise ConfigurationError(
            f"{where}['priority_bands'] names {', '.join(sorted(unknown_bands))}; a band is a "
            f"share-group priority: {', '.join(PRIORITY_POLL_INTERVALS_MS)}."
        )
    values = {
        key: options[key] for key in OPTION_KEYS - {"queues", "priority_bands"} if key in options
    }
    parsed = BackendOptions(
        queues=queues,
        priority_bands=dict(sorted(bands.items(), key=lambda item: -item[1])),
        **values,
    )
    if parsed.max_attempts < 1:
        raise ConfigurationError(f"{where}['max_attempts'] must be 1 or more.")
    return parsed
