"""Request and response headers (RequestHeader v1-v2, ResponseHeader v0-v1)."""

from ..schema import INT16, INT32, STRING, Field, MessageSchema

REQUEST_HEADER = MessageSchema(
    "RequestHeader",
    valid="1-2",
    flexible="2+",
    fields=[
        Field("request_api_key", INT16, "0+"),
        Field("request_api_version", INT16, "0+"),
        Field("correlation_id", INT32, "0+"),
        # Always a classic (int16-length) string, even in the flexible header v2.
        Field("client_id", STRING, "1+", nullable="1+", default=None, flexible="none"),
    ],
)

RESPONSE_HEADER = MessageSchema(
    "ResponseHeader",
    valid="0-1",
    flexible="1+",
    fields=[Field("correlation_id", INT32, "0+")],
)
