"""Record real ShareGroupHeartbeat/ShareFetch/ShareAcknowledge frames and record batches from a
Kafka 4.4 broker into ``data/recorded_frames.json``; the native tests replay them offline.

    python -m tests.native.record_frames --bootstrap 127.0.0.1:19092 [--no-java]

Batches come from librdkafka (confluent_kafka.Producer) with each ``compression.type`` and,
unless ``--no-java``, from Kafka's own Java producer (``kafka-console-producer``, from the test
broker's jars), whose snappy is xerial-framed. Everything it creates is named ``recorded-*``.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from django_sharegroups.kafka.cluster import Cluster
from django_sharegroups.kafka.config import ConnectionConfig
from django_sharegroups.kafka.protocol import Api
from django_sharegroups.kafka.protocol.messages import (
    SHARE_ACKNOWLEDGE,
    SHARE_FETCH,
    SHARE_GROUP_HEARTBEAT,
)
from tests.services import kafka as kafka_service

DATA_FILE = Path(__file__).with_name("data") / "recorded_frames.json"
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
LIBS = Path(__file__).resolve().parents[2] / ".cache" / "kafka" / "libs"

#: What every recorded batch holds (the Java producer cannot send headers or null keys).
#: Values repeat themselves so that librdkafka compresses (it sends a batch uncompressed when
#: compressing would not make it smaller).
RECORDS = [
    {"key": "k1", "value": "one " * 40, "headers": [["h", "1"]]},
    {"key": None, "value": "two " * 40, "headers": []},
    {"key": "k3", "value": None, "headers": [["a", "x"], ["b", None]]},
]
JAVA_RECORDS = [{"key": f"k{i}", "value": f"java-{i} " * 30, "headers": []} for i in (1, 2, 3)]


class Recorder:
    def __init__(self) -> None:
        self.label = ""
        self.frames: list[dict[str, Any]] = []
        self._request: dict[str, Any] | None = None

    def observe(self, direction: str, api: Api, version: int, frame: bytes) -> None:
        if api.key not in (SHARE_GROUP_HEARTBEAT.key, SHARE_FETCH.key, SHARE_ACKNOWLEDGE.key):
            return
        if direction == "request":
            self._request = {"label": self.label, "api_key": api.key, "version": version}
            self._request["request"] = frame.hex()
            return
        assert self._request is not None
        self._request["response"] = frame.hex()
        self.frames.append(self._request)
        self._request = None


def produce_librdkafka(bootstrap: str, topic: str, codec: str) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 200}
    )
    for record in RECORDS:
        producer.produce(
            topic,
            value=None if record["value"] is None else record["value"].encode(),
            key=None if record["key"] is None else record["key"].encode(),
            headers=[(k, None if v is None else v.encode()) for k, v in record["headers"]],
        )
    assert producer.flush(30) == 0


def produce_java(bootstrap: str, topic: str, codec: str) -> None:
    lines = "".join(f"{r['key']}\t{r['value']}\n" for r in JAVA_RECORDS)
    command = [
        "java",
        "-cp",
        f"{LIBS}/*",
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--compression-codec",
        codec,
        "--reader-property",
        "parse.key=true",
        "--command-property",
        "linger.ms=500",
    ]
    subprocess.run(command, input=lines.encode(), check=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--no-java", action="store_true")
    options = parser.parse_args()
    bootstrap = options.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    recorder = Recorder()
    cluster = Cluster(
        ConnectionConfig.from_dict({"bootstrap.servers": bootstrap}),
        wire_observer=recorder.observe,
    )
    producers = [("librdkafka", codec, produce_librdkafka, RECORDS) for codec in CODECS]
    if not options.no_java:
        producers += [("java", c, produce_java, JAVA_RECORDS) for c in CODECS if c != "none"]
    batches = []
    topics = {}
    for producer_name, codec, produce, records in producers:
        topic = kafka_service.create_topic(admin, 1, prefix=f"recorded-{producer_name}-{codec}")
        produce(bootstrap, topic, codec)
        topics[(producer_name, codec)] = (topic, records)
    group = kafka_service.unique_name("recorded-native")
    kafka_service.alter_share_group_config(admin, group, {"share.auto.offset.reset": "earliest"})
    member_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    coordinator = cluster.find_coordinator(group)
    names = [topic for topic, _ in topics.values()]
    recorder.label = "heartbeat-join"
    beat = cluster.request(
        SHARE_GROUP_HEARTBEAT,
        {
            "group_id": group,
            "member_id": member_id,
            "member_epoch": 0,
            "subscribed_topic_names": names,
        },
        node_id=coordinator,
    )
    deadline = time.monotonic() + 30
    while not (beat.assignment and len(beat.assignment.topic_partitions) == len(names)):
        assert time.monotonic() < deadline, "no assignment"
        time.sleep(0.5)
        recorder.label = "heartbeat"
        beat = cluster.request(
            SHARE_GROUP_HEARTBEAT,
            {"group_id": group, "member_id": member_id, "member_epoch": beat.member_epoch},
            node_id=coordinator,
        )
    metadata = cluster.metadata(names)
    ids = {name: metadata.topics[name].topic_id for name in names}
    epoch = 0
    previous = []
    for (producer_name, codec), (topic, records) in topics.items():
        recorder.label = f"fetch-{producer_name}-{codec}"
        fetch = cluster.request(
            SHARE_FETCH,
            {
                "group_id": group,
                "member_id": member_id,
                "share_session_epoch": epoch,
                "max_wait_ms": 1000,
                "min_bytes": 1,
                "max_bytes": 1 << 20,
                "max_records": 10,
                "batch_size": 10,
                "share_acquire_mode": 1,
                "topics": [{"topic_id": ids[topic], "partitions": [{"partition_index": 0}]}],
                "forgotten_topics_data": previous,
            },
            node_id=1,
        )
        epoch += 1
        assert fetch.error_code == 0, fetch
        previous = [{"topic_id": ids[topic], "partitions": [0]}]
        (partition,) = [
            p for t in fetch.responses if t.topic_id == ids[topic] for p in t.partitions
        ]
        batches.append(
            {
                "producer": producer_name,
                "codec": codec,
                "records": partition.records.hex(),
                "acquired": [
                    [a.first_offset, a.last_offset, a.delivery_count]
                    for a in partition.acquired_records
                ],
                "expected": records,
            }
        )
        topic_id = ids[topic]
        recorder.label = f"renew-{producer_name}-{codec}"
        renew = cluster.request(
            SHARE_ACKNOWLEDGE,
            {
                "group_id": group,
                "member_id": member_id,
                "share_session_epoch": epoch,
                "is_renew_ack": True,
                "topics": [
                    {
                        "topic_id": topic_id,
                        "partitions": [
                            {
                                "partition_index": 0,
                                "acknowledgement_batches": [
                                    {"first_offset": 0, "last_offset": 2, "acknowledge_types": [4]}
                                ],
                            }
                        ],
                    }
                ],
            },
            node_id=1,
        )
        epoch += 1
        assert renew.error_code == 0, renew
        recorder.label = f"accept-{producer_name}-{codec}"
        accept = cluster.request(
            SHARE_ACKNOWLEDGE,
            {
                "group_id": group,
                "member_id": member_id,
                "share_session_epoch": epoch,
                "topics": [
                    {
                        "topic_id": topic_id,
                        "partitions": [
                            {
                                "partition_index": 0,
                                "acknowledgement_batches": [
                                    {
                                        "first_offset": 0,
                                        "last_offset": 2,
                                        "acknowledge_types": [1, 2, 3],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            node_id=1,
        )
        epoch += 1
        assert accept.error_code == 0, accept
    recorder.label = "close-session"
    cluster.request(
        SHARE_ACKNOWLEDGE,
        {"group_id": group, "member_id": member_id, "share_session_epoch": -1, "topics": []},
        node_id=1,
    )
    recorder.label = "heartbeat-leave"
    cluster.request(
        SHARE_GROUP_HEARTBEAT,
        {"group_id": group, "member_id": member_id, "member_epoch": -1},
        node_id=coordinator,
    )
    cluster.close()
    admin.delete_topics(names)
    DATA_FILE.parent.mkdir(exist_ok=True)
    DATA_FILE.write_text(
        json.dumps({"frames": recorder.frames, "batches": batches}, indent=1) + "\n"
    )
    print(f"recorded {len(recorder.frames)} frames and {len(batches)} batches into {DATA_FILE}")


if __name__ == "__main__":
    main()
