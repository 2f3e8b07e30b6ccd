"""The lifecycle of one listener, as an explicit state machine.

``starting`` → ``running`` ⇄ ``quiet`` (the process asked to stop polling) → ``stopping`` →
``stopped``; any state may end in ``failed`` (the thread died; the runner restarts it). Only the
transitions below are allowed, so a report such as "clean" can trust the state it reads.
"""

from __future__ import annotations

import enum


class ListenerState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    QUIET = "quiet"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


TRANSITIONS: dict[ListenerState, frozenset[ListenerState]] = {
    ListenerState.STARTING: frozenset(
        {ListenerState.RUNNING, ListenerState.STOPPING, ListenerState.FAILED}
    ),
    ListenerState.RUNNING: frozenset(
        {ListenerState.QUIET, ListenerState.STOPPING, ListenerState.FAILED}
    ),
    ListenerState.QUIET: frozenset({ListenerState.STOPPING, ListenerState.FAILED}),
    ListenerState.STOPPING: frozenset({ListenerState.STOPPED, ListenerState.FAILED}),
    ListenerState.STOPPED: frozenset(),
    ListenerState.FAILED: frozenset(),
}

#: States in which a listener serves its group (or is about to).
LIVE_STATES = frozenset({ListenerState.STARTING, ListenerState.RUNNING, ListenerState.QUIET})


class StateMachine:
    """Holds a listener's state; refuses transitions the diagram above does not have."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = ListenerState.STARTING

    def to(self, new: ListenerState) -> None:
        if new is self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"listener cannot go from {self.state} to {new}")
        self.state = new

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES
