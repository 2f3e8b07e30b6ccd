"""The share consumer's RPC definitions and the ``records`` type, on bytes built here and on
frames recorded from Kafka 4.4 (``record_frames.py``)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from django_sharegroups.clients.native.records import read_batches
from django_sharegroups.kafka.errors import ProtocolError
from django_sharegroups.kafka.protocol import (
    APIS,
    MessageSchema,
    decode,
    decode_request,
    decode_response,
    encode,
    encode_request,
    encode_response,
)
from django_sharegroups.kafka.protocol.messages import (
    SHARE_ACKNOWLEDGE,
    SHARE_CONSUMER_APIS,
    SHARE_FETCH,
    SHARE_GROUP_HEARTBEAT,
)
from django_sharegroups.kafka.protocol.schema import RECORDS, Field

RECORDED = json.loads((Path(__file__).parent / "data" / "recorded_frames.json").read_text())
FRAMES = RECORDED["frames"]
BY_KEY = {api.key: api for api in SHARE_CONSUMER_APIS}
TOPIC_ID = uuid.UUID("0b9e2c3f-6a21-4b49-9a52-63f4bd7a2c10")


def records_schema(nullable: str = "none", flexible: str = "0+") -> MessageSchema:
    return MessageSchema(
        "RecordsOnly",
        valid="0-1",
        flexible=flexible,
        fields=[Field("records", RECORDS, "0+", nullable=nullable)],
    )


def test_records_are_compact_bytes_in_flexible_versions() -> None:
    schema = records_schema(nullable="0+")
    assert encode(schema, 0, {"records": b"\x01\x02\x03"}) == b"\x04\x01\x02\x03\x00"
    assert encode(schema, 0, {"records": None}) == b"\x00\x00"
    assert decode(schema, 0, b"\x04\x01\x02\x03\x00").records == b"\x01\x02\x03"
    assert decode(schema, 0, b"\x00\x00").records is None
    assert decode(schema, 0, b"\x01\x00").records == b""


def test_records_are_int32_prefixed_in_classic_versions() -> None:
    schema = records_schema(flexible="none")
    assert encode(schema, 0, {"records": b"ab"}) == b"\x00\x00\x00\x02ab"
    assert decode(schema, 0, b"\x00\x00\x00\x02ab").records == b"ab"


def test_records_not_nullable_refuses_null_and_truncation() -> None:
    schema = records_schema()
    with pytest.raises(ProtocolError, match="not nullable"):
        encode(schema, 0, {"records": None})
    with pytest.raises(ProtocolError, match="null where"):
        decode(schema, 0, b"\x00\x00")
    with pytest.raises(ProtocolError, match="truncated"):
        decode(schema, 0, b"\x05ab\x00")


def test_share_consumer_apis_stay_out_of_the_admin_registry() -> None:
    """The admin's recorded-frame suite covers every API in ``APIS``; ours are covered here."""
    assert not set(SHARE_CONSUMER_APIS) & set(APIS)
    assert [api.key for api in SHARE_CONSUMER_APIS] == [76, 78, 79]


def test_share_fetch_v2_round_trips_every_field() -> None:
    body = {
        "group_id": "g",
        "member_id": "m",
        "share_session_epoch": 3,
        "max_wait_ms": 500,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "max_records": 7,
        "batch_size": 7,
        "share_acquire_mode": 1,
        "is_renew_ack": False,
        "topics": [
            {
                "topic_id": TOPIC_ID,
                "partitions": [
                    {
                        "partition_index": 2,
                        "acknowledgement_batches": [
                            {"first_offset": 10, "last_offset": 12, "acknowledge_types": [1]},
                            {"first_offset": 14, "last_offset": 15, "acknowledge_types": [2, 3]},
                        ],
                    }
                ],
            }
        ],
        "forgotten_topics_data": [{"topic_id": TOPIC_ID, "partitions": [0, 1]}],
    }
    decoded = decode(SHARE_FETCH.request, 2, encode(SHARE_FETCH.request, 2, body))
    assert decoded.max_records == 7 and decoded.share_acquire_mode == 1
    batches = decoded.topics[0].partitions[0].acknowledgement_batches
    assert [(b.first_offset, b.last_offset, b.acknowledge_types) for b in batches] == [
        (10, 12, [1]),
        (14, 15, [2, 3]),
    ]
    assert decoded.forgotten_topics_data[0].partitions == [0, 1]


def test_share_fetch_v1_has_no_acquire_mode_but_ignores_it() -> None:
    body = {
        "member_id": "m",
        "share_session_epoch": 0,
        "max_wait_ms": 0,
        "min_bytes": 1,
        "max_records": 5,
        "batch_size": 5,
        "share_acquire_mode": 1,
    }
    decoded = decode(SHARE_FETCH.request, 1, encode(SHARE_FETCH.request, 1, body))
    assert decoded.share_acquire_mode == 0  # ignorable: dropped in v1
    with pytest.raises(ProtocolError, match="is_renew_ack is not supported in version 1"):
        encode(SHARE_FETCH.request, 1, {**body, "is_renew_ack": True})


def test_share_acknowledge_v2_carries_the_renew_flag_and_the_lock_timeout() -> None:
    request = {
        "group_id": "g",
        "member_id": "m",
        "share_session_epoch": 4,
        "is_renew_ack": True,
        "topics": [],
    }
    assert decode(
        SHARE_ACKNOWLEDGE.request, 2, encode(SHARE_ACKNOWLEDGE.request, 2, request)
    ).is_renew_ack
    response = {
        "throttle_time_ms": 0,
        "error_code": 0,
        "acquisition_lock_timeout_ms": 30000,
        "responses": [],
        "node_endpoints": [],
    }
    assert (
        decode(
            SHARE_ACKNOWLEDGE.response, 2, encode(SHARE_ACKNOWLEDGE.response, 2, response)
        ).acquisition_lock_timeout_ms
        == 30000
    )
    # v1 has no lock timeout; the field is ignorable there.
    assert (
        decode(
            SHARE_ACKNOWLEDGE.response, 1, encode(SHARE_ACKNOWLEDGE.response, 1, response)
        ).acquisition_lock_timeout_ms
        == 0
    )


def test_heartbeat_assignment_is_nullable() -> None:
    response = {"error_code": 0, "member_id": "m", "member_epoch": 5, "heartbeat_interval_ms": 500}
    assert (
        decode(
            SHARE_GROUP_HEARTBEAT.response, 1, encode(SHARE_GROUP_HEARTBEAT.response, 1, response)
        ).assignment
        is None
    )
    response["assignment"] = {"topic_partitions": [{"topic_id": TOPIC_ID, "partitions": [0, 3]}]}
    decoded = decode(
        SHARE_GROUP_HEARTBEAT.response, 1, encode(SHARE_GROUP_HEARTBEAT.response, 1, response)
    )
    assert decoded.assignment.topic_partitions[0].partitions == [0, 3]


# -- recorded from Kafka 4.4 ----------------------------------------------------------------


@pytest.mark.parametrize("entry", FRAMES, ids=lambda e: e["label"])
def test_recorded_frames_decode_and_reencode_to_the_same_bytes(entry: dict) -> None:
    api = BY_KEY[entry["api_key"]]
    request = bytes.fromhex(entry["request"])
    header, body = decode_request(api, request)
    assert (
        encode_request(api, entry["version"], header.correlation_id, header.client_id, body)
        == request
    )
    response = bytes.fromhex(entry["response"])
    correlation_id, decoded = decode_response(api, entry["version"], response)
    assert correlation_id == header.correlation_id
    assert decoded.error_code == 0
    assert encode_response(api, entry["version"], correlation_id, decoded) == response


def test_the_recording_speaks_the_versions_kafka_4_4_offers() -> None:
    versions = {(e["api_key"], e["version"]) for e in FRAMES}
    assert versions == {(76, 1), (78, 2), (79, 2)}


def test_recorded_share_fetch_answers_carry_acquired_ranges_and_batches() -> None:
    fetches = [e for e in FRAMES if e["label"].startswith("fetch-")]
    assert fetches
    for entry in fetches:
        _, response = decode_response(
            SHARE_FETCH, entry["version"], bytes.fromhex(entry["response"])
        )
        assert response.acquisition_lock_timeout_ms > 0
        partitions = [p for t in response.responses for p in t.partitions if p.acquired_records]
        assert partitions, entry["label"]
        for partition in partitions:
            assert list(read_batches(partition.records))


def test_recorded_heartbeats_join_and_leave() -> None:
    join = next(e for e in FRAMES if e["label"] == "heartbeat-join")
    _, request = decode_request(SHARE_GROUP_HEARTBEAT, bytes.fromhex(join["request"]))
    assert request.member_epoch == 0 and request.subscribed_topic_names
    _, response = decode_response(SHARE_GROUP_HEARTBEAT, 1, bytes.fromhex(join["response"]))
    assert response.member_id == request.member_id and response.member_epoch > 0
    assert response.heartbeat_interval_ms > 0
    leave = next(e for e in FRAMES if e["label"] == "heartbeat-leave")
    _, request = decode_request(SHARE_GROUP_HEARTBEAT, bytes.fromhex(leave["request"]))
    assert request.member_epoch == -1


@pytest.mark.parametrize("entry", FRAMES, ids=lambda e: e["label"])
def test_every_truncation_of_a_recorded_response_is_a_protocol_error(entry: dict) -> None:
    api = BY_KEY[entry["api_key"]]
    frame = bytes.fromhex(entry["response"])
    for cut in range(0, len(frame), max(1, len(frame) // 40)):
        with pytest.raises(ProtocolError):
            decode_response(api, entry["version"], frame[:cut])
