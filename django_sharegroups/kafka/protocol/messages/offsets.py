"""ListOffsets (2): log start/end offsets and offsets by timestamp, asked of partition leaders."""

from ..schema import INT8, INT16, INT32, INT64, STRING, Api, Field, MessageSchema, structs

LATEST_TIMESTAMP = -1
"""Asks for the log end offset (the high watermark under read_uncommitted)."""
EARLIEST_TIMESTAMP = -2
"""Asks for the log start offset."""

# Version 0 was removed in Kafka 4.0.
LIST_OFFSETS = Api(
    key=2,
    name="ListOffsets",
    request=MessageSchema(
        "ListOffsetsRequest",
        valid="1-11",
        flexible="6+",
        fields=[
            Field("replica_id", INT32, "0+"),
            Field("isolation_level", INT8, "2+"),
            Field(
                "topics",
                structs(
                    "ListOffsetsTopic",
                    Field("name", STRING, "0+"),
                    Field(
                        "partitions",
                        structs(
                            "ListOffsetsPartition",
                            Field("partition_index", INT32, "0+"),
                            Field("current_leader_epoch", INT32, "4+", default=-1, ignorable=True),
                            Field("timestamp", INT64, "0+"),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
            Field("timeout_ms", INT32, "10+", ignorable=True),
        ],
    ),
    response=MessageSchema(
        "ListOffsetsResponse",
        valid="1-11",
        flexible="6+",
        fields=[
            Field("throttle_time_ms", INT32, "2+", ignorable=True),
            Field(
                "topics",
                structs(
                    "ListOffsetsTopicResponse",
                    Field("name", STRING, "0+"),
                    Field(
                        "partitions",
                        structs(
                            "ListOffsetsPartitionResponse",
                            Field("partition_index", INT32, "0+"),
                            Field("error_code", INT16, "0+"),
                            Field("timestamp", INT64, "1+", default=-1),
                            Field("offset", INT64, "1+", default=-1),
                            Field("leader_epoch", INT32, "4+", default=-1),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
        ],
    ),
)
