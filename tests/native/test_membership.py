"""The heartbeat loop against a scripted coordinator, and rejoining on the real broker."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from django_sharegroups.clients.native.membership import Membership, new_member_id
from django_sharegroups.kafka.config import ConnectionConfig
from django_sharegroups.kafka.errors import KafkaConnectionError
from django_sharegroups.kafka.protocol import Struct

from ..helpers import wait_for
from .helpers import FAST_RETRIES

TOPIC_ID = uuid.UUID(int=3)


def answer(error_code=0, epoch=1, interval_ms=20, assignment=None, message=None) -> Struct:
    return Struct(
        throttle_time_ms=0,
        error_code=error_code,
        error_message=message,
        member_id=None,
        member_epoch=epoch,
        heartbeat_interval_ms=interval_ms,
        assignment=None
        if assignment is None
        else Struct(topic_partitions=[Struct(topic_id=TOPIC_ID, partitions=list(assignment))]),
    )


class ScriptedCoordinator:
    """Answers heartbeats from a script (then repeats its last answer); records requests."""

    def __init__(self, *answers) -> None:
        self.config = ConnectionConfig.from_dict(FAST_RETRIES)
        self.answers = list(answers)
        self.requests: list[dict] = []
        self.refreshes = 0
        self.lock = threading.Lock()

    def find_coordinator(self, group_id: str, *, refresh: bool = False) -> int:
        self.refreshes += refresh
        return 1

    def request(self, api, body, *, node_id=None, **options):
        with self.lock:
            self.requests.append(dict(body))
            result = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(result, Exception):
            raise result
        return result

    def epochs(self) -> list[int]:
        with self.lock:
            return [r["member_epoch"] for r in self.requests]


def test_member_ids_look_like_kafkas() -> None:
    ids = {new_member_id() for _ in range(100)}
    assert len(ids) == 100 and {len(i) for i in ids} == {22}


def test_join_heartbeat_assignment_and_leave() -> None:
    coordinator = ScriptedCoordinator(
        answer(epoch=1, assignment=()), answer(epoch=2, assignment=(0, 1)), answer(epoch=2)
    )
    membership = Membership(coordinator, "g", rack_id="rack-a")
    membership.subscribe(["jobs"])
    wait_for(lambda: membership.assignment == {(TOPIC_ID, 0), (TOPIC_ID, 1)})
    wait_for(lambda: len(coordinator.requests) >= 4)
    membership.close()
    join, *beats, leave = coordinator.requests
    assert join["member_epoch"] == 0 and join["subscribed_topic_names"] == ["jobs"]
    assert join["rack_id"] == "rack-a" and join["member_id"] == membership.member_id
    assert beats[0]["member_epoch"] == 1 and beats[0]["subscribed_topic_names"] is None
    assert beats[-1]["member_epoch"] == 2 and beats[-1]["rack_id"] is None
    assert leave["member_epoch"] == -1
    assert membership.heartbeat_interval == 0.02


def test_subscription_changes_are_sent_once() -> None:
    coordinator = ScriptedCoordinator(answer(epoch=1, assignment=()), answer(epoch=1))
    membership = Membership(coordinator, "g")
    membership.subscribe(["a"])
    wait_for(lambda: membership.joined)
    membership.subscribe(["a", "b"])
    wait_for(lambda: any(r["subscribed_topic_names"] == ["a", "b"] for r in coordinator.requests))
    count = len(coordinator.requests)
    wait_for(lambda: len(coordinator.requests) >= count + 2)
    membership.close()
    sent = [
        r["subscribed_topic_names"] for r in coordinator.requests if r["subscribed_topic_names"]
    ]
    assert sent == [["a"], ["a", "b"]]


@pytest.mark.parametrize("code", [25, 110], ids=["UNKNOWN_MEMBER_ID", "FENCED_MEMBER_EPOCH"])
def test_a_forgotten_or_fenced_member_drops_its_assignment_and_rejoins(code: int) -> None:
    coordinator = ScriptedCoordinator(
        answer(epoch=5, assignment=(0,)), answer(error_code=code), answer(epoch=7, assignment=(2,))
    )
    membership = Membership(coordinator, "g")
    membership.subscribe(["jobs"])
    wait_for(lambda: membership.assignment == {(TOPIC_ID, 2)})
    membership.close()
    epochs = coordinator.epochs()
    assert epochs[:3] == [0, 5, 0]  # the rejoin uses epoch 0 under the same id
    assert {r["member_id"] for r in coordinator.requests} == {membership.member_id}
    assert coordinator.requests[2]["subscribed_topic_names"] == ["jobs"]


def test_coordinator_moves_and_connection_failures_are_retried() -> None:
    coordinator = ScriptedCoordinator(
        answer(error_code=16),  # NOT_COORDINATOR
        KafkaConnectionError("broker went away"),
        answer(error_code=14),  # COORDINATOR_LOAD_IN_PROGRESS
        answer(epoch=1, assignment=(0,)),
    )
    membership = Membership(coordinator, "g")
    membership.subscribe(["jobs"])
    wait_for(lambda: membership.assignment == {(TOPIC_ID, 0)})
    membership.close()
    assert coordinator.refreshes >= 3
    assert membership.error is None


def test_a_member_whose_coordinator_died_retries_within_retry_backoff_max() -> None:
    # The coordinator's broker was killed: heartbeats fail (connection refused) until the
    # group has a new coordinator. Retries double from retry.backoff.ms up to
    # retry.backoff.max.ms, not up to reconnect.backoff.max.ms: ten failures then cost about
    # 0.75 s here, where waits of up to 10 s took over 8 s (past a share session timeout).
    coordinator = ScriptedCoordinator(
        *[KafkaConnectionError("cannot connect: refused")] * 10, answer(epoch=1, assignment=(0,))
    )
    coordinator.config = ConnectionConfig.from_dict(
        {
            **FAST_RETRIES,
            "retry.backoff.ms": 10,
            "retry.backoff.max.ms": 100,
            "reconnect.backoff.max.ms": 10_000,
        }
    )
    membership = Membership(coordinator, "g")
    started = time.monotonic()
    membership.subscribe(["jobs"])
    try:
        wait_for(lambda: membership.assignment == {(TOPIC_ID, 0)}, timeout=12)
    finally:
        membership.close()
    assert len(coordinator.requests) >= 11
    assert time.monotonic() - started < 3


def test_errors_retrying_cannot_fix_are_kept_for_the_owner_thread() -> None:
    coordinator = ScriptedCoordinator(answer(error_code=30, message="no access"))  # GROUP_AUTH
    membership = Membership(coordinator, "g")
    membership.subscribe(["jobs"])
    wait_for(lambda: membership.error is not None)
    membership.close()
    assert membership.error.name == "GROUP_AUTHORIZATION_FAILED"
    assert "no access" in str(membership.error)
    assert not membership.joined
    assert coordinator.epochs()[-1] == 0  # never joined, so no leave


def test_waiting_for_an_assignment_change() -> None:
    coordinator = ScriptedCoordinator(answer(epoch=1, assignment=()), answer(epoch=1))
    membership = Membership(coordinator, "g")
    assert membership.wait_for_assignment_change(0, 0.01) is False
    membership.subscribe(["jobs"])
    assert membership.wait_for_assignment_change(0, 3.0) is True
    assert membership.assignment == frozenset()
    assert membership.wait_for_assignment_change(membership.assignment_version, 0.05) is False
    membership.close()


def test_a_member_without_partitions_asks_again_soon_then_waits_the_interval() -> None:
    """The coordinator assigns after the join: a minute's interval must not leave the member
    idle that long, and once it has partitions it heartbeats at the interval."""
    coordinator = ScriptedCoordinator(
        answer(epoch=1, interval_ms=60_000, assignment=()),
        answer(epoch=1, interval_ms=60_000),
        answer(epoch=2, interval_ms=60_000, assignment=(0,)),
        answer(epoch=2, interval_ms=60_000),
    )
    membership = Membership(coordinator, "g")
    membership.subscribe(["jobs"])
    wait_for(lambda: membership.assignment == {(TOPIC_ID, 0)}, timeout=5)
    assigned_after = len(coordinator.requests)
    assert assigned_after == 3
    assert not membership.wait_for_assignment_change(membership.assignment_version, 0.5)
    assert len(coordinator.requests) == assigned_after
    membership.close()


def test_quick_heartbeats_double_up_to_the_interval() -> None:
    coordinator = ScriptedCoordinator(answer(epoch=1, interval_ms=300, assignment=()))
    membership = Membership(coordinator, "g")
    waits = []
    membership._assignment = frozenset()
    membership.heartbeat_interval = 0.3
    for _ in range(5):
        waits.append(membership._wait())
    assert waits == [0.05, 0.1, 0.2, 0.3, 0.3]
    membership._assignment = frozenset({(TOPIC_ID, 0)})
    assert membership._wait() == 0.3
    membership._assignment = frozenset()
    assert membership._wait() == 0.05


# -- on the real broker -------------------------------------------------------------------


@pytest.mark.kafka
def test_a_fenced_member_rejoins_and_goes_on_consuming(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    from ..helpers import produce
    from .helpers import poll_until

    name = share_topic()
    client = member(name)
    produce(kafka_bootstrap_servers, name, [b"before"])
    assert len(poll_until(client, 1)) == 1
    membership = client.membership
    version = membership.assignment_version
    membership.send_stale_epoch()  # the coordinator answers FENCED_MEMBER_EPOCH
    assert membership.wait_for_assignment_change(version, 10)
    produce(kafka_bootstrap_servers, name, [b"after"])
    (record,) = poll_until(client, 1)
    assert record.value == b"after"
    assert 0 < membership.member_epoch < 1000
