"""Share-group start offsets (SPSO): DescribeShareGroupOffsets (90), AlterShareGroupOffsets (91),
DeleteShareGroupOffsets (92)."""

from ..schema import INT16, INT32, INT64, STRING, UUID, Api, Field, MessageSchema, array, structs

# Version 1 adds the per-partition lag computed by the broker (KIP-1226).
DESCRIBE_SHARE_GROUP_OFFSETS = Api(
    key=90,
    name="DescribeShareGroupOffsets",
    request=MessageSchema(
        "DescribeShareGroupOffsetsRequest",
        valid="0-1",
        flexible="0+",
        fields=[
            Field(
                "groups",
                structs(
                    "DescribeShareGroupOffsetsRequestGroup",
                    Field("group_id", STRING, "0+"),
                    Field(
                        "topics",
                        structs(
                            "DescribeShareGroupOffsetsRequestTopic",
                            Field("topic_name", STRING, "0+"),
                            Field("partitions", array(INT32), "0+"),
                        ),
                        "0+",
                        nullable="0+",
                    ),
                ),
                "0+",
            )
        ],
    ),
    response=MessageSchema(
        "DescribeShareGroupOffsetsResponse",
        valid="0-1",
        flexible="0+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field(
                "groups",
                structs(
                    "DescribeShareGroupOffsetsResponseGroup",
                    Field("group_id", STRING, "0+"),
                    Field(
                        "topics",
                        structs(
                            "DescribeShareGroupOffsetsResponseTopic",
                            Field("topic_name", STRING, "0+"),
                            Field("topic_id", UUID, "0+"),
                            Field(
                                "partitions",
                                structs(
                                    "DescribeShareGroupOffsetsResponsePartition",
                                    Field("partition_index", INT32, "0+"),
                                    Field("start_offset", INT64, "0+"),
                                    Field("leader_epoch", INT32, "0+"),
                                    Field("lag", INT64, "1+", default=-1, ignorable=True),
                                    Field("error_code", INT16, "0+"),
                                    Field(
                                        "error_message", STRING, "0+", nullable="0+", default=None
                                    ),
                                ),
                                "0+",
                            ),
                        ),
                        "0+",
                    ),
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "0+", nullable="0+", default=None),
                ),
                "0+",
            ),
        ],
    ),
)

ALTER_SHARE_GROUP_OFFSETS = Api(
    key=91,
    name="AlterShareGroupOffsets",
    request=MessageSchema(
        "AlterShareGroupOffsetsRequest",
        valid="0",
        flexible="0+",
        fields=[
            Field("group_id", STRING, "0+"),
            Field(
                "topics",
                structs(
                    "AlterShareGroupOffsetsRequestTopic",
                    Field("topic_name", STRING, "0+"),
                    Field(
                        "partitions",
                        structs(
                            "AlterShareGroupOffsetsRequestPartition",
                            Field("partition_index", INT32, "0+"),
                            Field("start_offset", INT64, "0+"),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
        ],
    ),
    response=MessageSchema(
        "AlterShareGroupOffsetsResponse",
        valid="0",
        flexible="0+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field("error_code", INT16, "0+"),
            Field("error_message", STRING, "0+", nullable="0+", default=None),
            Field(
                "responses",
                structs(
                    "AlterShareGroupOffsetsResponseTopic",
                    Field("topic_name", STRING, "0+"),
                    Field("topic_id", UUID, "0+"),
                    Field(
                        "partitions",
                        structs(
                            "AlterShareGroupOffsetsResponsePartition",
                            Field("partition_index", INT32, "0+"),
                            Field("error_code", INT16, "0+"),
                            Field("error_message", STRING, "0+", nullable="0+", default=None),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
        ],
    ),
)

DELETE_SHARE_GROUP_OFFSETS = Api(
    key=92,
    name="DeleteShareGroupOffsets",
    request=MessageSchema(
        "DeleteShareGroupOffsetsRequest",
        valid="0",
        flexible="0+",
        fields=[
            Field("group_id", STRING, "0+"),
            Field(
                "topics",
                structs("DeleteShareGroupOffsetsRequestTopic", Field("topic_name", STRING, "0+")),
                "0+",
            ),
        ],
    ),
    response=MessageSchema(
        "DeleteShareGroupOffsetsResponse",
        valid="0",
        flexible="0+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field("error_code", INT16, "0+"),
            Field("error_message", STRING, "0+", nullable="0+", default=None),
            Field(
                "responses",
                structs(
                    "DeleteShareGroupOffsetsResponseTopic",
                    Field("topic_name", STRING, "0+"),
                    Field("topic_id", UUID, "0+"),
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "0+", nullable="0+", default=None),
                ),
                "0+",
            ),
        ],
    ),
)
