"""Group RPCs: ListGroups (16), DeleteGroups (42), ShareGroupDescribe (77)."""

from ..schema import (
    BOOL,
    INT16,
    INT32,
    STRING,
    UUID,
    Api,
    Field,
    MessageSchema,
    array,
    struct,
    structs,
)

LIST_GROUPS = Api(
    key=16,
    name="ListGroups",
    request=MessageSchema(
        "ListGroupsRequest",
        valid="0-5",
        flexible="3+",
        fields=[
            Field("states_filter", array(STRING), "4+"),
            Field("types_filter", array(STRING), "5+"),
        ],
    ),
    response=MessageSchema(
        "ListGroupsResponse",
        valid="0-5",
        flexible="3+",
        fields=[
            Field("throttle_time_ms", INT32, "1+", ignorable=True),
            Field("error_code", INT16, "0+"),
            Field(
                "groups",
                structs(
                    "ListedGroup",
                    Field("group_id", STRING, "0+"),
                    Field("protocol_type", STRING, "0+"),
                    Field("group_state", STRING, "4+", ignorable=True),
                    Field("group_type", STRING, "5+", ignorable=True),
                ),
                "0+",
            ),
        ],
    ),
)

DELETE_GROUPS = Api(
    key=42,
    name="DeleteGroups",
    request=MessageSchema(
        "DeleteGroupsRequest",
        valid="0-3",
        flexible="2+",
        fields=[Field("groups_names", array(STRING), "0+")],
    ),
    response=MessageSchema(
        "DeleteGroupsResponse",
        valid="0-3",
        flexible="2+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field(
                "results",
                structs(
                    "DeletableGroupResult",
                    Field("group_id", STRING, "0+"),
                    Field("error_code", INT16, "0+"),
                    Field(
                        "error_message", STRING, "3+", nullable="3+", default=None, ignorable=True
                    ),
                ),
                "0+",
            ),
        ],
    ),
)

_TOPIC_PARTITIONS = structs(
    "TopicPartitions",
    Field("topic_id", UUID, "0+"),
    Field("topic_name", STRING, "0+"),
    Field("partitions", array(INT32), "0+"),
)

# Version 0 (Kafka 4.0 early access) was removed in 4.1; version 1 is the stable KIP-932 one.
SHARE_GROUP_DESCRIBE = Api(
    key=77,
    name="ShareGroupDescribe",
    request=MessageSchema(
        "ShareGroupDescribeRequest",
        valid="1",
        flexible="0+",
        fields=[
            Field("group_ids", array(STRING), "0+"),
            Field("include_authorized_operations", BOOL, "0+"),
        ],
    ),
    response=MessageSchema(
        "ShareGroupDescribeResponse",
        valid="1",
        flexible="0+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field(
                "groups",
                structs(
                    "DescribedGroup",
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "0+", nullable="0+", default=None),
                    Field("group_id", STRING, "0+"),
                    Field("group_state", STRING, "0+"),
                    Field("group_epoch", INT32, "0+"),
                    Field("assignment_epoch", INT32, "0+"),
                    Field("assignor_name", STRING, "0+"),
                    Field(
                        "members",
                        structs(
                            "Member",
                            Field("member_id", STRING, "0+"),
                            Field("rack_id", STRING, "0+", nullable="0+", default=None),
                            Field("member_epoch", INT32, "0+"),
                            Field("client_id", STRING, "0+"),
                            Field("client_host", STRING, "0+"),
                            Field("subscribed_topic_names", array(STRING), "0+"),
                            Field(
                                "assignment",
                                struct(
                                    "Assignment",
                                    Field("topic_partitions", _TOPIC_PARTITIONS, "0+"),
                                ),
                                "0+",
                            ),
                        ),
                        "0+",
                    ),
                    Field("authorized_operations", INT32, "0+", default=-(2**31)),
                ),
                "0+",
            ),
        ],
    ),
)
