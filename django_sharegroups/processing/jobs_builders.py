"""Jobs builders split the records of one poll (one topic) into jobs for ``consume``.

``per_message``: one job per record. ``per_batch``: chunks of ``max_messages_per_job``.
``per_partition``: one partition per job. ``per_key``: one key per job. Grouping builders are
chunked by ``max_messages_per_job`` too, so a job never exceeds it. A custom builder is a
callable (or a :class:`JobsBuilderBase` subclass instance): it gets the messages and the limit
and returns a list of lists; the engine still splits any list longer than the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from ..messages import Message

JobsBuilder = Callable[[Sequence[Message], int], list[list[Message]]]


class JobsBuilderBase:
    """Subclass and implement :meth:`build` for a custom grouping with state or options."""

    def build(self, messages: Sequence[Message], size: int) -> list[list[Message]]:
        raise NotImplementedError

    def __call__(self, messages: Sequence[Message], size: int) -> list[list[Message]]:
        return self.build(messages, size)


def _chunks(messages: Sequence[Message], size: int) -> list[list[Message]]:
    return [list(messages[i : i + size]) for i in range(0, len(messages), size)]


def _grouped(
    messages: Sequence[Message], size: int, key: Callable[[Message], Hashable]
) -> list[list[Message]]:
    groups: dict[Hashable, list[Message]] = {}
    for message in messages:
        groups.setdefault(key(message), []).append(message)
    return [job for group in groups.values() for job in _chunks(group, size)]


def per_message(messages: Sequence[Message], size: int) -> list[list[Message]]:
    return [[m] for m in messages]


def per_batch(messages: Sequence[Message], size: int) -> list[list[Message]]:
    return _chunks(messages, size)


def per_partition(messages: Sequence[Message], size: int) -> list[list[Message]]:
    return _grouped(messages, size, lambda m: m.partition)


def per_key(messages: Sequence[Message], size: int) -> list[list[Message]]:
    return _grouped(messages, size, lambda m: m.key)


BUILDERS: dict[str, JobsBuilder] = {
    "per_message": per_message,
    "per_batch": per_batch,
    "per_partition": per_partition,
    "per_key": per_key,
}


def resolve_jobs_builder(spec: str | JobsBuilder) -> JobsBuilder:
    if not callable(spec):
        return BUILDERS[spec]

    def bounded(messages: Sequence[Message], size: int) -> list[list[Message]]:
        """A custom builder's jobs, each cut to ``max_messages_per_job``."""
        return [chunk for job in spec(messages, size) for chunk in _chunks(job, size)]

    return bounded
