"""CreateTopics (19): the broker-side dead-letter topic is created by the client that
configures it (KIP-1191 writes only to topics that opt in with a topic config)."""

from ..schema import (
    BOOL,
    INT8,
    INT16,
    INT32,
    STRING,
    UUID,
    Api,
    Field,
    MessageSchema,
    array,
    structs,
)

# Versions 0 and 1 were removed in Kafka 4.0.
CREATE_TOPICS = Api(
    key=19,
    name="CreateTopics",
    request=MessageSchema(
        "CreateTopicsRequest",
        valid="2-7",
        flexible="5+",
        fields=[
            Field(
                "topics",
                structs(
                    "CreatableTopic",
                    Field("name", STRING, "0+"),
                    Field("num_partitions", INT32, "0+"),
                    Field("replication_factor", INT16, "0+"),
                    Field(
                        "assignments",
                        structs(
                            "CreatableReplicaAssignment",
                            Field("partition_index", INT32, "0+"),
                            Field("broker_ids", array(INT32), "0+"),
                        ),
                        "0+",
                    ),
                    Field(
                        "configs",
                        structs(
                            "CreatableTopicConfig",
                            Field("name", STRING, "0+"),
                            Field("value", STRING, "0+", nullable="0+"),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
            Field("timeout_ms", INT32, "0+"),
            Field("validate_only", BOOL, "1+", ignorable=True),
        ],
    ),
    response=MessageSchema(
        "CreateTopicsResponse",
        valid="2-7",
        flexible="5+",
        fields=[
            Field("throttle_time_ms", INT32, "2+", ignorable=True),
            Field(
                "topics",
                structs(
                    "CreatableTopicResult",
                    Field("name", STRING, "0+"),
                    Field("topic_id", UUID, "7+", ignorable=True),
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "1+", nullable="0+", ignorable=True),
                    Field(
                        "topic_config_error_code",
                        INT16,
                        "5+",
                        tag=0,
                        tagged="5+",
                        ignorable=True,
                    ),
                    Field("num_partitions", INT32, "5+", default=-1, ignorable=True),
                    Field("replication_factor", INT16, "5+", default=-1, ignorable=True),
                    Field(
                        "configs",
                        structs(
                            "CreatableTopicConfigs",
                            Field("name", STRING, "5+"),
                            Field("value", STRING, "5+", nullable="5+"),
                            Field("read_only", BOOL, "5+"),
                            Field("config_source", INT8, "5+", default=-1, ignorable=True),
                            Field("is_sensitive", BOOL, "5+"),
                        ),
                        "5+",
                        nullable="5+",
                        ignorable=True,
                    ),
                ),
                "0+",
            ),
        ],
    ),
)
