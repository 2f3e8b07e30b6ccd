"""Record real request/response frames from a Kafka broker into ``data/recorded_frames.json``.

The codec tests replay these bytes, so they check our message definitions against what a real
broker sends, not against our own encoder. Re-record after adding an RPC::

    python -m tests.kafka.record_frames --bootstrap 127.0.0.1:19092 \
        [--sasl-bootstrap 127.0.0.1:29094]  # a SASL_PLAINTEXT listener with PLAIN user
                                            # alice/alice-secret and SCRAM-SHA-256 bob/bob-secret

It creates a topic and a share group with one live ShareConsumer (which consumes the
records, so the group has start offsets), then sends each request at
the versions listed below. Everything it creates is named ``recorded-*``.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.kafka.protocol import Api
from django_sharegroups.kafka.protocol.messages import (
    ALTER_SHARE_GROUP_OFFSETS,
    API_VERSIONS,
    DELETE_GROUPS,
    DELETE_SHARE_GROUP_OFFSETS,
    DESCRIBE_CONFIGS,
    DESCRIBE_SHARE_GROUP_OFFSETS,
    FIND_COORDINATOR,
    INCREMENTAL_ALTER_CONFIGS,
    LIST_GROUPS,
    LIST_OFFSETS,
    METADATA,
    SHARE_GROUP_DESCRIBE,
)

DATA_FILE = Path(__file__).with_name("data") / "recorded_frames.json"
CONFIG_KEYS = ["share.auto.offset.reset", "share.record.lock.duration.ms"]


class Recorder:
    def __init__(self) -> None:
        self.label = "connect"
        self.entries: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None

    def observe(self, direction: str, api: Api, version: int, frame: bytes) -> None:
        if direction == "request":
            self._pending = {"api": api.name, "api_key": api.key, "version": version}
            self._pending["request"] = frame.hex()
            return
        assert self._pending is not None and self._pending["api"] == api.name
        self._pending["response"] = frame.hex()
        label = self.label
        if label == "connect":
            label = f"connect_{api.name}_v{version}"
        used = {entry["label"] for entry in self.entries}
        if label in used:
            label = next(f"{label}_{n}" for n in range(2, 100) if f"{label}_{n}" not in used)
        self.entries.append({"label": label, **self._pending})
        self._pending = None


def record(bootstrap: str, sasl_bootstrap: str | None) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    topic, group = f"recorded-topic-{suffix}", f"recorded-group-{suffix}"
    kafka_admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in kafka_admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(6):
        producer.produce(topic, value=b"record-%d" % index, partition=index % 2)
    producer.flush(30)

    recorder = Recorder()
    admin = ShareGroupAdmin({"bootstrap.servers": bootstrap}, wire_observer=recorder.observe)
    cluster = admin.cluster
    admin.alter_share_group_config(group, {"share.auto.offset.reset": "earliest"})

    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        consumer.poll(0.2)
        members = admin.describe_share_group(group).members
        offsets = admin.share_group_offsets(group)
        initialised = offsets and all(entry.start_offset is not None for entry in offsets)
        if members and members[0].assignment and initialised:
            break
    coordinator = cluster.find_coordinator(group)
    leader = cluster.metadata([topic]).topics[topic].partition_leaders[0]

    def send(label: str, api: Api, version: int, body: dict[str, Any], node: int | None = None):
        recorder.label = label
        return cluster.connection(node).send(api, body, version=version)

    send("api_versions_v3", API_VERSIONS, 3, {"client_software_name": "recorder"})
    send("api_versions_v0", API_VERSIONS, 0, {})
    for version in (13, 12, 8, 1):
        send(f"metadata_v{version}", METADATA, version, {"topics": [{"name": topic}]})
    send(
        "find_coordinator_v6",
        FIND_COORDINATOR,
        6,
        {"key_type": 0, "coordinator_keys": [group]},
    )
    send("find_coordinator_v3", FIND_COORDINATOR, 3, {"key": group, "key_type": 0})
    send("list_groups_v5", LIST_GROUPS, 5, {"types_filter": ["share"]}, coordinator)
    send("list_groups_v4", LIST_GROUPS, 4, {"states_filter": ["Stable"]}, coordinator)
    send("list_groups_v2", LIST_GROUPS, 2, {}, coordinator)
    send(
        "share_group_describe_v1",
        SHARE_GROUP_DESCRIBE,
        1,
        {"group_ids": [group, f"recorded-missing-{suffix}"]},
        coordinator,
    )
    for version in (1, 0):
        send(
            f"describe_share_group_offsets_v{version}",
            DESCRIBE_SHARE_GROUP_OFFSETS,
            version,
            {"groups": [{"group_id": group, "topics": None}]},
            coordinator,
        )
    alter_body = {
        "group_id": group,
        "topics": [
            {"topic_name": topic, "partitions": [{"partition_index": 0, "start_offset": 0}]}
        ],
    }
    send(
        "alter_share_group_offsets_v0_non_empty",
        ALTER_SHARE_GROUP_OFFSETS,
        0,
        alter_body,
        coordinator,
    )
    consumer.close()
    send("alter_share_group_offsets_v0", ALTER_SHARE_GROUP_OFFSETS, 0, alter_body, coordinator)
    for version, timestamp in ((11, -1), (5, -2), (1, -1)):
        send(
            f"list_offsets_v{version}",
            LIST_OFFSETS,
            version,
            {
                "replica_id": -1,
                "topics": [
                    {"name": topic, "partitions": [{"partition_index": 0, "timestamp": timestamp}]}
                ],
            },
            leader,
        )
    for version in (4, 1):
        send(
            f"describe_configs_v{version}",
            DESCRIBE_CONFIGS,
            version,
            {
                "resources": [
                    {"resource_type": 32, "resource_name": group, "configuration_keys": CONFIG_KEYS}
                ],
                "include_documentation": version >= 3,
            },
        )
    for version, value in ((1, "60000"), (0, None)):
        send(
            f"incremental_alter_configs_v{version}",
            INCREMENTAL_ALTER_CONFIGS,
            version,
            {
                "resources": [
                    {
                        "resource_type": 32,
                        "resource_name": group,
                        "configs": [
                            {
                                "name": "share.record.lock.duration.ms",
                                "config_operation": 0 if value else 1,
                                "value": value,
                            }
                        ],
                    }
                ]
            },
        )
    send(
        "delete_share_group_offsets_v0",
        DELETE_SHARE_GROUP_OFFSETS,
        0,
        {"group_id": group, "topics": [{"topic_name": topic}]},
        coordinator,
    )
    send("delete_groups_v3", DELETE_GROUPS, 3, {"groups_names": [group]}, coordinator)
    send("delete_groups_v1", DELETE_GROUPS, 1, {"groups_names": [group]}, coordinator)
    admin.close()
    for future in kafka_admin.delete_topics([topic]).values():
        future.exception(30)

    # Of the frames sent while setting up, keep only the handshake's ApiVersions.
    entries = [
        entry
        for entry in recorder.entries
        if not entry["label"].startswith("connect_") or entry["label"] == "connect_ApiVersions_v4"
    ]
    entries.append(_unsupported_api_versions(bootstrap))
    if sasl_bootstrap:
        entries += _sasl_exchanges(sasl_bootstrap)
    return {"topic": topic, "group": group, "frames": entries}


def _unsupported_api_versions(bootstrap: str) -> dict[str, Any]:
    """An ApiVersions request at a version no broker speaks, and the v0 answer it gets."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    request = (
        (API_VERSIONS.key).to_bytes(2, "big")
        + (99).to_bytes(2, "big")
        + (7).to_bytes(4, "big")
        + (3).to_bytes(2, "big")
        + b"rec"
        + b"\x00"  # header v2's (empty) tagged fields: brokers treat unknown versions as flexible
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(len(request).to_bytes(4, "big") + request)
        size = int.from_bytes(_receive(sock, 4), "big")
        response = _receive(sock, size)
    return {
        "label": "api_versions_unsupported_version",
        "api": API_VERSIONS.name,
        "api_key": API_VERSIONS.key,
        "version": 99,
        "request": request.hex(),
        "response": response.hex(),
    }


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def _sasl_exchanges(bootstrap: str) -> list[dict[str, Any]]:
    entries = []
    for mechanism, username, password in (
        ("PLAIN", "alice", "alice-secret"),
        ("SCRAM-SHA-256", "bob", "bob-secret"),
    ):
        recorder = Recorder()
        admin = ShareGroupAdmin(
            {
                "bootstrap.servers": bootstrap,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": mechanism,
                "sasl.username": username,
                "sasl.password": password,
            },
            wire_observer=recorder.observe,
        )
        admin.cluster.connection()
        admin.close()
        prefix = f"sasl_{mechanism.lower().replace('-', '_')}_"
        for entry in recorder.entries:
            if entry["api"].startswith("Sasl"):
                entries.append({**entry, "label": prefix + entry["label"].removeprefix("connect_")})
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--sasl-bootstrap")
    options = parser.parse_args()
    recorded = record(options.bootstrap, options.sasl_bootstrap)
    DATA_FILE.parent.mkdir(exist_ok=True)
    DATA_FILE.write_text(json.dumps(recorded, indent=1) + "\n")
    print(f"wrote {len(recorded['frames'])} frame pairs to {DATA_FILE}")


if __name__ == "__main__":
    main()
