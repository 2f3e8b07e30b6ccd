"""Configs: DescribeConfigs (32) and IncrementalAlterConfigs (44), used on GROUP resources."""

from ..schema import BOOL, INT8, INT16, INT32, STRING, Api, Field, MessageSchema, array, structs

RESOURCE_TYPE_TOPIC = 2
RESOURCE_TYPE_BROKER = 4
RESOURCE_TYPE_GROUP = 32

CONFIG_OPERATION_SET = 0
CONFIG_OPERATION_DELETE = 1

# DescribeConfigs version 0 was removed in Kafka 4.0.
DESCRIBE_CONFIGS = Api(
    key=32,
    name="DescribeConfigs",
    request=MessageSchema(
        "DescribeConfigsRequest",
        valid="1-4",
        flexible="4+",
        fields=[
            Field(
                "resources",
                structs(
                    "DescribeConfigsResource",
                    Field("resource_type", INT8, "0+"),
                    Field("resource_name", STRING, "0+"),
                    Field("configuration_keys", array(STRING), "0+", nullable="0+"),
                ),
                "0+",
            ),
            Field("include_synonyms", BOOL, "1+"),
            Field("include_documentation", BOOL, "3+"),
        ],
    ),
    response=MessageSchema(
        "DescribeConfigsResponse",
        valid="1-4",
        flexible="4+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field(
                "results",
                structs(
                    "DescribeConfigsResult",
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "0+", nullable="0+"),
                    Field("resource_type", INT8, "0+"),
                    Field("resource_name", STRING, "0+"),
                    Field(
                        "configs",
                        structs(
                            "DescribeConfigsResourceResult",
                            Field("name", STRING, "0+"),
                            Field("value", STRING, "0+", nullable="0+"),
                            Field("read_only", BOOL, "0+"),
                            Field("config_source", INT8, "1+", default=-1, ignorable=True),
                            Field("is_sensitive", BOOL, "0+"),
                            Field(
                                "synonyms",
                                structs(
                                    "DescribeConfigsSynonym",
                                    Field("name", STRING, "1+"),
                                    Field("value", STRING, "1+", nullable="0+"),
                                    Field("source", INT8, "1+"),
                                ),
                                "1+",
                                ignorable=True,
                            ),
                            Field("config_type", INT8, "3+", ignorable=True),
                            Field("documentation", STRING, "3+", nullable="0+", ignorable=True),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
        ],
    ),
)

INCREMENTAL_ALTER_CONFIGS = Api(
    key=44,
    name="IncrementalAlterConfigs",
    request=MessageSchema(
        "IncrementalAlterConfigsRequest",
        valid="0-1",
        flexible="1+",
        fields=[
            Field(
                "resources",
                structs(
                    "AlterConfigsResource",
                    Field("resource_type", INT8, "0+"),
                    Field("resource_name", STRING, "0+"),
                    Field(
                        "configs",
                        structs(
                            "AlterableConfig",
                            Field("name", STRING, "0+"),
                            Field("config_operation", INT8, "0+"),
                            Field("value", STRING, "0+", nullable="0+"),
                        ),
                        "0+",
                    ),
                ),
                "0+",
            ),
            Field("validate_only", BOOL, "0+"),
        ],
    ),
    response=MessageSchema(
        "IncrementalAlterConfigsResponse",
        valid="0-1",
        flexible="1+",
        fields=[
            Field("throttle_time_ms", INT32, "0+"),
            Field(
                "responses",
                structs(
                    "AlterConfigsResourceResponse",
                    Field("error_code", INT16, "0+"),
                    Field("error_message", STRING, "0+", nullable="0+"),
                    Field("resource_type", INT8, "0+"),
                    Field("resource_name", STRING, "0+"),
                ),
                "0+",
            ),
        ],
    ),
)
