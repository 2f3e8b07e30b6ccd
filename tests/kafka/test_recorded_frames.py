"""The codec against bytes recorded from a real Kafka 4.4 broker (see record_frames.py).

Every recorded frame must decode to what the broker meant and re-encode to the very same
bytes; every truncation of it must raise ProtocolError; random corruption must either decode
or raise ProtocolError, never anything else.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from django_sharegroups.kafka.errors import ProtocolError
from django_sharegroups.kafka.protocol import (
    API_BY_KEY,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

RECORDED = json.loads((Path(__file__).parent / "data" / "recorded_frames.json").read_text())
TOPIC, GROUP = RECORDED["topic"], RECORDED["group"]
FRAMES = RECORDED["frames"]
BY_LABEL = {entry["label"]: entry for entry in FRAMES}
SPEAKABLE = [entry for entry in FRAMES if entry["version"] in API_BY_KEY[entry["api_key"]].versions]


def _ids(entry: dict) -> str:
    return entry["label"]


def _response(label: str):
    entry = BY_LABEL[label]
    api = API_BY_KEY[entry["api_key"]]
    return decode_response(api, entry["version"], bytes.fromhex(entry["response"]))[1]


def test_recording_covers_every_api() -> None:
    recorded_keys = {entry["api_key"] for entry in FRAMES}
    assert recorded_keys == set(API_BY_KEY)


@pytest.mark.parametrize("entry", SPEAKABLE, ids=_ids)
def test_request_decodes_and_reencodes_to_the_same_bytes(entry: dict) -> None:
    api = API_BY_KEY[entry["api_key"]]
    frame = bytes.fromhex(entry["request"])
    header, body = decode_request(api, frame)
    assert header.request_api_version == entry["version"]
    rebuilt = encode_request(api, entry["version"], header.correlation_id, header.client_id, body)
    assert rebuilt == frame


@pytest.mark.parametrize("entry", FRAMES, ids=_ids)
def test_response_decodes_and_reencodes_to_the_same_bytes(entry: dict) -> None:
    api = API_BY_KEY[entry["api_key"]]
    frame = bytes.fromhex(entry["response"])
    version = entry["version"] if entry["version"] in api.versions else 0
    correlation_id, body = decode_response(api, entry["version"], frame)
    assert encode_response(api, version, correlation_id, body) == frame


@pytest.mark.parametrize("entry", FRAMES, ids=_ids)
def test_every_truncated_response_raises_protocol_error(entry: dict) -> None:
    api = API_BY_KEY[entry["api_key"]]
    frame = bytes.fromhex(entry["response"])
    for cut in range(len(frame)):
        with pytest.raises(ProtocolError):
            decode_response(api, entry["version"], frame[:cut])


@pytest.mark.parametrize("entry", FRAMES, ids=_ids)
def test_corrupted_responses_decode_or_raise_protocol_error(entry: dict) -> None:
    api = API_BY_KEY[entry["api_key"]]
    frame = bytes.fromhex(entry["response"])
    chance = random.Random(entry["label"])
    for _ in range(300):
        corrupted = bytearray(frame)
        for _ in range(chance.randint(1, 3)):
            corrupted[chance.randrange(len(corrupted))] = chance.randrange(256)
        try:
            decode_response(api, entry["version"], bytes(corrupted))
        except ProtocolError:
            pass


def test_response_with_trailing_bytes_raises_protocol_error() -> None:
    entry = BY_LABEL["find_coordinator_v6"]
    frame = bytes.fromhex(entry["response"]) + b"\x00"
    with pytest.raises(ProtocolError, match="trailing"):
        decode_response(API_BY_KEY[entry["api_key"]], entry["version"], frame)


# -- what the broker said ------------------------------------------------------------------


def test_api_versions_lists_share_group_apis_and_tagged_features() -> None:
    response = _response("connect_ApiVersions_v4")
    assert response.error_code == 0
    ranges = {key.api_key: (key.min_version, key.max_version) for key in response.api_keys}
    for api_key in (77, 90, 91, 92):
        assert api_key in ranges
    # SupportedFeatures, FinalizedFeaturesEpoch and FinalizedFeatures are tagged fields.
    assert "share.version" in {feature.name for feature in response.supported_features}
    assert response.finalized_features_epoch > 0
    assert "share.version" in {feature.name for feature in response.finalized_features}


def test_unsupported_api_versions_request_gets_a_v0_answer() -> None:
    response = _response("api_versions_unsupported_version")
    assert response.error_code == 35  # UNSUPPORTED_VERSION
    assert [key.api_key for key in response.api_keys] == [18]
    assert response.api_keys[0].max_version >= 3


@pytest.mark.parametrize("label", ["metadata_v13", "metadata_v12", "metadata_v8", "metadata_v1"])
def test_metadata_describes_the_topic(label: str) -> None:
    response = _response(label)
    (topic,) = response.topics
    assert topic.name == TOPIC
    assert sorted(p.partition_index for p in topic.partitions) == [0, 1]
    assert response.brokers
    if BY_LABEL[label]["version"] >= 10:
        assert topic.topic_id != uuid.UUID(int=0)


def test_find_coordinator_batched_and_single() -> None:
    batched = _response("find_coordinator_v6")
    assert batched.coordinators[0].key == GROUP
    assert batched.coordinators[0].error_code == 0
    single = _response("find_coordinator_v3")
    assert single.error_code == 0
    assert single.node_id == batched.coordinators[0].node_id


def test_list_groups_type_and_state_filters() -> None:
    share_groups = _response("list_groups_v5").groups
    assert {group.group_type for group in share_groups} == {"share"}
    assert GROUP in {group.group_id for group in share_groups}
    assert {group.group_state for group in _response("list_groups_v4").groups} <= {"Stable"}
    listed = {group.group_id: group for group in _response("list_groups_v2").groups}
    assert listed[GROUP].protocol_type == "share"


def test_share_group_describe_shows_member_and_assignment() -> None:
    found, missing = _response("share_group_describe_v1").groups
    assert found.error_code == 0
    assert found.group_id == GROUP
    assert found.group_state == "Stable"
    (member,) = found.members
    assert member.subscribed_topic_names == [TOPIC]
    (assigned,) = member.assignment.topic_partitions
    assert assigned.topic_name == TOPIC
    assert sorted(assigned.partitions) == [0, 1]
    assert missing.error_code == 69  # GROUP_ID_NOT_FOUND
    assert missing.error_message


def test_describe_share_group_offsets_v1_has_lag_and_v0_does_not() -> None:
    (group,) = _response("describe_share_group_offsets_v1").groups
    (topic,) = group.topics
    assert topic.topic_name == TOPIC
    assert all(partition.lag >= 0 for partition in topic.partitions)
    (old_group,) = _response("describe_share_group_offsets_v0").groups
    assert all(partition.lag == -1 for partition in old_group.topics[0].partitions)


def test_alter_share_group_offsets_refused_then_accepted() -> None:
    refused = _response("alter_share_group_offsets_v0_non_empty")
    assert refused.error_code == 68  # NON_EMPTY_GROUP
    assert refused.error_message
    accepted = _response("alter_share_group_offsets_v0")
    assert accepted.error_code == 0
    assert accepted.responses[0].partitions[0].error_code == 0


def test_list_offsets_latest_and_earliest() -> None:
    latest = _response("list_offsets_v11").topics[0].partitions[0]
    earliest = _response("list_offsets_v5").topics[0].partitions[0]
    assert (earliest.offset, latest.offset) == (0, 3)
    assert _response("list_offsets_v1").topics[0].partitions[0].offset == 3


def test_describe_configs_of_a_group() -> None:
    (result,) = _response("describe_configs_v4").results
    assert (result.resource_type, result.resource_name) == (32, GROUP)
    configs = {config.name: config for config in result.configs}
    assert configs["share.auto.offset.reset"].value == "earliest"
    assert configs["share.auto.offset.reset"].config_source == 8  # GROUP_CONFIG
    assert configs["share.record.lock.duration.ms"].documentation
    (old,) = _response("describe_configs_v1").results
    assert {config.name for config in old.configs} == set(configs)


def test_alter_configs_delete_offsets_and_delete_groups() -> None:
    assert _response("incremental_alter_configs_v1").responses[0].error_code == 0
    assert _response("incremental_alter_configs_v0").responses[0].error_code == 0
    deleted = _response("delete_share_group_offsets_v0")
    assert deleted.error_code == 0
    assert deleted.responses[0].topic_name == TOPIC
    assert _response("delete_groups_v3").results[0].error_code == 0
    assert _response("delete_groups_v1").results[0].error_code == 69  # already gone


def test_sasl_exchanges() -> None:
    assert "PLAIN" in _response("sasl_plain_SaslHandshake_v1").mechanisms
    assert _response("sasl_plain_SaslAuthenticate_v2").error_code == 0
    first = _response("sasl_scram_sha_256_SaslAuthenticate_v2").auth_bytes
    assert first.startswith(b"r=")
    final = _response("sasl_scram_sha_256_SaslAuthenticate_v2_2").auth_bytes
    assert final.startswith(b"v=")
