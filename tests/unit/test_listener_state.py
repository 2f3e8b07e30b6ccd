"""The listener's state machine: only the transitions of its diagram are allowed."""

from __future__ import annotations

import pytest

from django_sharegroups.runtime.state import ListenerState, StateMachine


def test_a_listener_goes_from_starting_through_running_and_quiet_to_stopped():
    machine = StateMachine()
    assert machine.state is ListenerState.STARTING and machine.live
    for state in (ListenerState.RUNNING, ListenerState.QUIET, ListenerState.STOPPING):
        machine.to(state)
    assert not machine.live
    machine.to(ListenerState.STOPPED)
    with pytest.raises(RuntimeError, match="stopped to running"):
        machine.to(ListenerState.RUNNING)


@pytest.mark.parametrize("state", ["starting", "running", "quiet", "stopping"])
def test_any_state_before_the_end_may_fail_and_failed_is_final(state):
    machine = StateMachine()
    path = ["running", "quiet", "stopping"]
    for step in path[: path.index(state) + 1] if state != "starting" else []:
        machine.to(ListenerState(step))
    machine.to(ListenerState.FAILED)
    assert not machine.live
    with pytest.raises(RuntimeError):
        machine.to(ListenerState.STOPPED)
