"""The native consumer's error paths against a scripted cluster: lost share sessions, moved
leaders, refused acknowledgements, broken connections, and the record limit across leaders —
what a one-broker test cluster cannot provoke."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.native import NativeShareConsumer
from django_sharegroups.kafka.cluster import TopicMetadata
from django_sharegroups.kafka.config import ConnectionConfig
from django_sharegroups.kafka.errors import KafkaConnectionError
from django_sharegroups.kafka.protocol import Struct

from .batches import Rec, batch
from .helpers import FAST_RETRIES

TOPIC_ID = uuid.UUID(int=11)


def fetch_answer(*partitions, error_code=0, lock_ms=5000) -> Struct:
    return Struct(
        throttle_time_ms=0,
        error_code=error_code,
        error_message=None,
        acquisition_lock_timeout_ms=lock_ms,
        responses=[Struct(topic_id=TOPIC_ID, partitions=list(partitions))] if partitions else [],
        node_endpoints=[],
    )


def partition_data(
    index=0, *, records=(), first=0, count=1, error_code=0, ack_error=0, leader=-1
) -> Struct:
    data = batch(first, [Rec(v) for v in records]) if records else b""
    acquired = (
        [Struct(first_offset=first, last_offset=first + len(records) - 1, delivery_count=count)]
        if records
        else []
    )
    return Struct(
        partition_index=index,
        error_code=error_code,
        error_message=None,
        acknowledge_error_code=ack_error,
        acknowledge_error_message=None,
        current_leader=Struct(leader_id=leader, leader_epoch=0),
        records=data,
        acquired_records=acquired,
    )


def ack_answer(*partition_errors, error_code=0, leader=-1) -> Struct:
    return Struct(
        throttle_time_ms=0,
        error_code=error_code,
        error_message=None,
        acquisition_lock_timeout_ms=5000,
        responses=[
            Struct(
                topic_id=TOPIC_ID,
                partitions=[
                    Struct(
                        partition_index=index,
                        error_code=code,
                        error_message=None,
                        current_leader=Struct(leader_id=leader, leader_epoch=0),
                    )
                    for index, code in partition_errors
                ],
            )
        ],
        node_endpoints=[],
    )


class ScriptedCluster:
    """Answers requests from per-API scripts (callables or values); records what was sent.
    Brokers 1-3 exist; a request to one in ``dead`` fails as a refused connection does."""

    def __init__(self, leaders: dict[int, int]) -> None:
        self.config = ConnectionConfig.from_dict(FAST_RETRIES)
        self.leaders = dict(leaders)
        self.brokers = {1, 2, 3}
        self.dead: set[int] = set()
        self.sent: list[tuple[str, int, dict]] = []
        self.scripts: dict[str, list] = {"ShareFetch": [], "ShareAcknowledge": []}

    def metadata(self, topics):
        return SimpleNamespace(topics={"jobs": TopicMetadata("jobs", TOPIC_ID, dict(self.leaders))})

    def knows_broker(self, node_id: int) -> bool:
        return node_id in self.brokers

    def connection(self, node_id: int) -> PipelinedConnection:
        if node_id in self.dead:
            raise KafkaConnectionError(f"cannot connect to node {node_id}: refused")
        return PipelinedConnection(self, node_id)

    def request(self, api, body, *, node_id=None, **options):
        if node_id in self.dead:
            raise KafkaConnectionError(f"cannot connect to node {node_id}: refused")
        self.sent.append((api.name, node_id, body))
        script = self.scripts[api.name]
        answer = script.pop(0) if script else self.default(api.name)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def default(self, api_name):
        return fetch_answer() if api_name == "ShareFetch" else ack_answer()

    def close(self) -> None:
        pass

    def requests(self, api_name: str) -> list[tuple[int, dict]]:
        return [(node, body) for name, node, body in self.sent if name == api_name]


class PipelinedConnection:
    """``begin``/``finish`` of a connection of the scripted cluster (the answer is taken when
    the request is sent, as the broker answers a connection's requests in order)."""

    def __init__(self, cluster: ScriptedCluster, node_id: int) -> None:
        self.cluster = cluster
        self.node_id = node_id

    def begin(self, api, body, **options):
        try:
            return self.cluster.request(api, body, node_id=self.node_id)
        except KafkaConnectionError as error:
            return error

    def finish(self, pending):
        if isinstance(pending, Exception):
            raise pending
        return pending


class StubMembership:
    def __init__(self, partitions) -> None:
        self.assignment = frozenset((TOPIC_ID, p) for p in partitions)
        self.assignment_version = 1
        self.error = None
        self.member_id = "member-1"
        self.cluster = SimpleNamespace(close=lambda: None)

    def wait_for_assignment_change(self, version, timeout):
        return False

    def close(self, timeout=0):
        pass


@pytest.fixture
def consumer_on():
    def make(leaders: dict[int, int], **config) -> tuple[NativeShareConsumer, ScriptedCluster]:
        consumer = NativeShareConsumer("group", {"bootstrap.servers": "127.0.0.1:1", **config})
        cluster = ScriptedCluster(leaders)
        consumer._cluster = cluster
        consumer._topics.cluster = cluster
        consumer._membership = StubMembership(leaders)
        consumer._subscription = ("jobs",)
        return consumer, cluster

    return make


def acked_offsets(body: dict) -> dict[int, list[tuple[int, int, list[int]]]]:
    return {
        p["partition_index"]: [
            (b["first_offset"], b["last_offset"], b["acknowledge_types"])
            for b in p["acknowledgement_batches"]
        ]
        for t in body["topics"]
        for p in t["partitions"]
        if p["acknowledgement_batches"]
    }


def test_a_lost_share_session_is_reopened_and_its_acknowledgements_resent(consumer_on):
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a", b"b"]))]
    records = consumer.poll(10, 0)
    assert [r.value for r in records] == [b"a", b"b"]
    for record in records:
        consumer.acknowledge(record, AcknowledgeType.ACCEPT)
    cluster.scripts["ShareFetch"] = [fetch_answer(error_code=122)]  # SHARE_SESSION_NOT_FOUND
    assert consumer.poll(10, 0) == []
    # The refused fetch carried the acknowledgements at epoch 1; after it, a new session is
    # opened (epoch 0, nothing acknowledged on it) and they go out by ShareAcknowledge.
    fetches = cluster.requests("ShareFetch")
    assert [body["share_session_epoch"] for _, body in fetches] == [0, 1, 0]
    assert acked_offsets(fetches[1][1]) == {0: [(0, 1, [1])]}
    assert acked_offsets(fetches[2][1]) == {}
    ((_, acknowledge),) = cluster.requests("ShareAcknowledge")
    assert acknowledge["share_session_epoch"] == 1
    assert acked_offsets(acknowledge) == {0: [(0, 1, [1])]}
    assert consumer.commit_sync(1) == []


def test_a_moved_leader_moves_the_fetch_and_the_old_session_forgets(consumer_on):
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [
        fetch_answer(partition_data(0, records=[b"a"])),
        fetch_answer(partition_data(0, error_code=6, leader=2)),  # NOT_LEADER_OR_FOLLOWER
    ]
    assert len(consumer.poll(10, 0)) == 1
    assert consumer.poll(10, 0) == []
    cluster.leaders[0] = 2
    cluster.scripts["ShareFetch"] = [
        fetch_answer(),
        fetch_answer(partition_data(0, records=[b"x"], first=1)),
    ]
    records = consumer.poll(10, 0)
    nodes = [node for node, _ in cluster.requests("ShareFetch")]
    assert nodes[:2] == [1, 1] and set(nodes[2:]) == {1, 2}
    to_old = [body for node, body in cluster.requests("ShareFetch")[2:] if node == 1]
    assert to_old[0]["forgotten_topics_data"] == [{"topic_id": TOPIC_ID, "partitions": [0]}]
    assert [r.value for r in records] == [b"x"]


def test_refused_acknowledgements_are_reported_with_kafkas_error_names(consumer_on):
    consumer, cluster = consumer_on({0: 1, 1: 1})
    cluster.scripts["ShareFetch"] = [
        fetch_answer(partition_data(0, records=[b"a"]), partition_data(1, records=[b"b"]))
    ]
    first, second = consumer.poll(10, 0)
    consumer.acknowledge(first, AcknowledgeType.ACCEPT)
    consumer.acknowledge(second, AcknowledgeType.RENEW)
    cluster.scripts["ShareAcknowledge"] = [ack_answer((0, 121), (1, 0))]  # INVALID_RECORD_STATE
    failures = consumer.commit_sync(1)
    assert [(f.partition, f.offset, f.error) for f in failures] == [(0, 0, "INVALID_RECORD_STATE")]
    ((_, body),) = cluster.requests("ShareAcknowledge")
    assert body["is_renew_ack"] is True
    consumer.acknowledge(second, AcknowledgeType.ACCEPT)
    cluster.scripts["ShareAcknowledge"] = [ack_answer(error_code=30)]  # GROUP_AUTHORIZATION
    assert [f.error for f in consumer.commit_sync(1)] == ["GROUP_AUTHORIZATION_FAILED"]


def test_acknowledgement_errors_on_a_fetch_are_reported(consumer_on):
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a"]))]
    (record,) = consumer.poll(10, 0)
    consumer.acknowledge(record, AcknowledgeType.REJECT)
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, ack_error=121))]
    assert consumer.poll(10, 0) == []
    assert [f.error for f in consumer.take_acknowledgement_failures()] == ["INVALID_RECORD_STATE"]


def test_a_broken_connection_keeps_the_acknowledgements_for_the_next_session(consumer_on):
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a"]))]
    (record,) = consumer.poll(10, 0)
    consumer.acknowledge(record, AcknowledgeType.ACCEPT)
    cluster.scripts["ShareFetch"] = [KafkaConnectionError("reset by peer")]
    assert consumer.poll(10, 0) == []
    # In the same poll: a new session is opened empty (a commit acquires nothing) and the
    # acknowledgements go out through it.
    failed, fetch_open, acknowledge = cluster.sent[-3:]
    assert failed[0] == "ShareFetch" and failed[2]["share_session_epoch"] == 1
    assert fetch_open[0] == "ShareFetch" and fetch_open[2]["share_session_epoch"] == 0
    assert fetch_open[2]["topics"] == []
    assert acknowledge[0] == "ShareAcknowledge" and acknowledge[2]["share_session_epoch"] == 1
    assert acked_offsets(acknowledge[2]) == {0: [(0, 0, [1])]}
    sent = len(cluster.sent)
    assert consumer.commit_sync(1) == [] and len(cluster.sent) == sent


def test_a_leader_id_the_broker_did_not_mean_is_not_followed(consumer_on):
    # Kafka 4.4 refuses an acknowledgement for a partition it does not host with
    # UNKNOWN_TOPIC_OR_PARTITION and CurrentLeader leader id 0 (seen after a leader was
    # killed); no broker has that id. The next poll must ask Metadata, not fetch from "0".
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a"]))]
    (record,) = consumer.poll(10, 0)
    consumer.acknowledge(record, AcknowledgeType.ACCEPT)
    cluster.leaders[0] = 2
    cluster.scripts["ShareAcknowledge"] = [ack_answer((0, 3), leader=0)]
    assert [f.error for f in consumer.commit_sync(1)] == ["UNKNOWN_TOPIC_OR_PARTITION"]
    assert consumer.poll(10, 0) == []
    nodes = [node for node, _ in cluster.requests("ShareFetch")]
    assert 0 not in nodes
    # The old leader's session forgets the partition; the new leader is asked for it.
    assert sorted(nodes[1:]) == [1, 2]
    ((_, to_new),) = [(n, b) for n, b in cluster.requests("ShareFetch")[1:] if n == 2]
    assert [p["partition_index"] for t in to_new["topics"] for p in t["partitions"]] == [0]


def test_a_broker_that_says_it_leads_what_it_refused_is_not_believed(consumer_on):
    consumer, cluster = consumer_on({0: 1})
    cluster.scripts["ShareFetch"] = [
        fetch_answer(partition_data(0, records=[b"a"])),
        fetch_answer(partition_data(0, error_code=6, leader=1)),  # NOT_LEADER_OR_FOLLOWER
    ]
    assert len(consumer.poll(10, 0)) == 1
    assert consumer.poll(10, 0) == []
    cluster.leaders[0] = 3  # Metadata knows better
    consumer.poll(10, 0)
    assert [node for node, _ in cluster.requests("ShareFetch")][-1] == 3


def test_prefetching_resumes_once_a_dead_brokers_partitions_have_moved(consumer_on):
    consumer, cluster = consumer_on({0: 1, 1: 2})
    cluster.dead = {2}  # killed: its connection is refused from now on
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a"]))]
    assert len(consumer.poll(10, 0)) == 1
    cluster.leaders[1] = 1  # the controller moved node 2's partition to node 1
    assert consumer.poll(10, 0) == []  # Metadata asked again: both from node 1 now
    assert consumer.poll(10, 0) == []
    assert {node for node, _ in cluster.requests("ShareFetch")[-2:]} == {1}
    sent = len(cluster.requests("ShareFetch"))
    # Node 2 is never asked again, so its failure episode never ends; prefetching must not
    # wait for that (it did: no prefetch until node 2 answered again).
    consumer.prefetch(10)
    assert len(cluster.requests("ShareFetch")) == sent + 1
    (node, body) = cluster.requests("ShareFetch")[-1]
    assert node == 1 and body["max_wait_ms"] == 0 and body["max_records"] == 10
    assert consumer.poll(10, 0) == []


def test_acknowledgements_for_a_dead_leader_follow_the_partition_to_its_new_one(consumer_on):
    consumer, cluster = consumer_on({0: 1, 1: 2})
    cluster.scripts["ShareFetch"] = [fetch_answer(partition_data(0, records=[b"a"]))]
    (record,) = consumer.poll(10, 0)
    consumer.acknowledge(record, AcknowledgeType.ACCEPT)
    cluster.dead = {1}  # the leader of partition 0 is killed
    assert consumer.poll(10, 0) == []
    # Partition 0 goes to another member; Metadata still names the dead broker its leader.
    consumer.membership.assignment = frozenset({(TOPIC_ID, 1)})
    consumer.membership.assignment_version += 1
    assert consumer.poll(10, 0) == []
    assert cluster.requests("ShareAcknowledge") == []  # nothing reached broker 1
    cluster.leaders[0] = 2  # now the controller has moved it
    assert consumer.poll(10, 0) == []
    # The acknowledgement goes to the new leader (which will refuse it: the acquisition was
    # the old leader's), instead of being put back for the dead broker poll after poll.
    assert [(node, acked_offsets(body)) for node, body in cluster.requests("ShareAcknowledge")] == [
        (2, {0: [(0, 0, [1])]})
    ]


def test_the_record_limit_holds_across_leaders(consumer_on):
    consumer, cluster = consumer_on({0: 1, 1: 2})
    cluster.scripts["ShareFetch"] = [
        fetch_answer(partition_data(1, records=[b"a", b"b", b"c"])),
        fetch_answer(partition_data(0, records=[b"d", b"e"])),
    ]
    records = consumer.poll(5, 0)
    assert len(records) == 5
    limits = [body["max_records"] for _, body in cluster.requests("ShareFetch")]
    assert limits == [5, 2]
    # All asked in record-limit mode.
    assert {body["share_acquire_mode"] for _, body in cluster.requests("ShareFetch")} == {1}


def test_errors_retrying_cannot_fix_are_raised_from_poll(consumer_on):
    from django_sharegroups.kafka.errors import error_for_code

    consumer, _ = consumer_on({0: 1})
    consumer.membership.error = error_for_code(30, "denied")
    with pytest.raises(Exception, match="GROUP_AUTHORIZATION_FAILED"):
        consumer.poll(10, 0)


def test_the_corrupt_batch_action_is_validated() -> None:
    from django_sharegroups.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="native.corrupt.batch.action"):
        NativeShareConsumer(
            "g", {"bootstrap.servers": "x:1", "native.corrupt.batch.action": "drop"}
        )
