"""SASL authentication: SaslHandshake (17) picks the mechanism, SaslAuthenticate (36) carries it."""

from ..schema import BYTES, INT16, INT64, STRING, Api, Field, MessageSchema, array

SASL_HANDSHAKE = Api(
    key=17,
    name="SaslHandshake",
    request=MessageSchema(
        "SaslHandshakeRequest",
        valid="0-1",
        flexible="none",
        fields=[Field("mechanism", STRING, "0+")],
    ),
    response=MessageSchema(
        "SaslHandshakeResponse",
        valid="0-1",
        flexible="none",
        fields=[
            Field("error_code", INT16, "0+"),
            Field("mechanisms", array(STRING), "0+"),
        ],
    ),
)

SASL_AUTHENTICATE = Api(
    key=36,
    name="SaslAuthenticate",
    request=MessageSchema(
        "SaslAuthenticateRequest",
        valid="0-2",
        flexible="2+",
        fields=[Field("auth_bytes", BYTES, "0+")],
    ),
    response=MessageSchema(
        "SaslAuthenticateResponse",
        valid="0-2",
        flexible="2+",
        fields=[
            Field("error_code", INT16, "0+"),
            Field("error_message", STRING, "0+", nullable="0+", default=None),
            Field("auth_bytes", BYTES, "0+"),
            Field("session_lifetime_ms", INT64, "1+", ignorable=True),
        ],
    ),
)
