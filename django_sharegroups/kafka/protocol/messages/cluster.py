"""Cluster discovery: ApiVersions (18), Metadata (3), FindCoordinator (10)."""

from ..schema import (
    BOOL,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    UUID,
    Api,
    Field,
    MessageSchema,
    array,
    structs,
)

API_VERSIONS = Api(
    key=18,
    name="ApiVersions",
    request=MessageSchema(
        "ApiVersionsRequest",
        valid="0-4",
        flexible="3+",
        fields=[
            Field("client_software_name", STRING, "3+", ignorable=True),
            Field("client_software_version", STRING, "3+", ignorable=True),
        ],
    ),
    response=MessageSchema(
        "ApiVersionsResponse",
        valid="0-4",
        flexible="3+",
        fields=[
            Field("error_code", INT16, "0+"),
            Field(
                "api_keys",
                structs(
                    "ApiVersion",
                    Field("api_key", INT16, "0+"),
                    Field("min_version", INT16, "0+"),
                    Field("max_version", INT16, "0+"),
                ),
                "0+",
            ),
            Field("throttle_time_ms", INT32, "1+", ignorable=True),
            Field(
                "supported_features",
                structs(
                    "SupportedFeatureKey",
                    Field("name", STRING, "3+"),
                    Field("min_version", INT16, "3+"),
                    Field("max_version", INT16, "3+"),
                ),
                "3+",
                tag=0,
                tagged="3+",
                ignorable=True,
            ),
            Field(
                "finalized_features_epoch",
                INT64,
                "3+",
                tag=1,
                tagged="3+",
                default=-1,
                ignorable=True,
            ),
            Field(
                "finalized_features",
                structs(
                    "FinalizedFeatureKey",
                    Field("name", STRING, "3+"),
                    Field("max_version_level", INT16, "3+"),
                    Field("min_version_level", INT16, "3+"),
                ),
                "3+",
                tag=2,
                tagged="3+",
                ignorable=True,
            ),
            Field("zk_migration_ready", BOOL, "3+", tag=3, tagged="3+", ignorable=True),
        ],
    ),
)

METADATA = Api(
    key=3,
    name="Metadata",
    request=MessageSchema(
        "MetadataRequest",
        valid="0-13",
        flexible="9+",
        fields=[
            Field(
                "topics",
                structs(
                    "MetadataRequestTopic",
                    Field("topic_id", UUID, "10+", ignorable=True),
                    Field("name", STRING, "0+", nullable="10+"),
                ),
                "0+",
                nullable="1+",
            ),
            Field("allow_auto_topic_creation", BOOL, "4+", default=True),
            Field("include_cluster_authorized_operations", BOOL, "8-10"),
            Field("include_topic_authorized_operations", BOOL, "8+"),
        ],
    ),
    response=MessageSchema(
        "MetadataResponse",
        valid="0-13",
        flexible="9+",
        fields=[
            Field("throttle_time_ms", INT32, "3+", ignorable=True),
            Field(
                "brokers",
                structs(
                    "MetadataResponseBroker",
                    Field("node_id", INT32, "0+"),
                    Field("host", STRING, "0+"),
                    Field("port", INT32, "0+"),
                    Field("rack", STRING, "1+", nullable="1+", default=None, ignorable=True),
                ),
                "0+",
            ),
            Field("cluster_id", STRING, "2+", nullable="2+", default=None, ignorable=True),
            Field("controller_id", INT32, "1+", default=-1, ignorable=True),
            Field(
                "topics",
                structs(
                    "MetadataResponseTopic",
                    Field("error_code", INT16, "0+"),
                    Field("name", STRING, "0+", nullable="12+"),
                    Field("topic_id", UUID, "10+", ignorable=True),
                    Field("is_internal", BOOL, "1+", ignorable=True),
                    Field(
                        "partitions",
                        structs(
                            "MetadataResponsePartition",
                            Field("error_code", INT16, "0+"),
                            Field("partition_index", INT32, "0+"),
                            Field("leader_id", INT32, "0+"),
                            Field("leader_epoch", INT32, "7+", default=-1, ignorable=True),
                            Field("replica_nodes", array(INT32), "0+"),
                            Field("isr_nodes", array(INT32), "0+"),
                            Field("offline_replicas", array(INT32), "5+", ignorable=True),
                        ),
                        "0+",
                    ),
                    Field("topic_authorized_operations", INT32, "8+", default=-(2**31)),
                ),
                "0+",
            ),
            Field("cluster_authorized_operations", INT32, "8-10", default=-(2**31)),
            Field("error_code", INT16, "13+", ignorable=True),
        ],
    ),
)

COORDINATOR_KEY_TYPE_GROUP = 0
COORDINATOR_KEY_TYPE_TRANSACTION = 1
COORDINATOR_KEY_TYPE_SHARE = 2

FIND_COORDINATOR = Api(
    key=10,
    name="FindCoordinator",
    request=MessageSchema(
        "FindCoordinatorRequest",
        valid="0-6",
        flexible="3+",
        fields=[
            Field("key", STRING, "0-3"),
            Field("key_type", INT8, "1+"),
            Field("coordinator_keys", array(STRING), "4+"),
        ],
    ),
    response=MessageSchema(
        "FindCoordinatorResponse",
        valid="0-6",
        flexible="3+",
        fields=[
            Field("throttle_time_ms", INT32, "1+", ignorable=True),
            Field("error_code", INT16, "0-3"),
            Field("error_message", STRING, "1-3", nullable="1-3", default=None, ignorable=True),
            Field("node_id", INT32, "0-3"),
            Field("host", STRING, "0-3"),
            Field("port", INT32, "0-3"),
            Field(
                "coordinators",
                structs(
                    "Coordinator",
                    Field("key", STRING, "4+"),
                    Field("node_id", INT32, "4+"),
                    Field("host", STRING, "4+"),
                    Field("port", INT32, "4+"),
                    Field("error_code", INT16, "4+"),
                    Field(
                        "error_message", STRING, "4+", nullable="4+", default=None, ignorable=True
                    ),
                ),
                "4+",
            ),
        ],
    ),
)
