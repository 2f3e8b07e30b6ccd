"""What to do about a connection, TLS or SASL failure: one sentence under the error itself.

The errors name what happened (``cannot connect to 127.0.0.1:9092: Connection refused``);
these hints name the usual mistake behind it, for the commands that print errors to people.
"""

from __future__ import annotations

import re

from .errors import (
    AuthenticationError,
    KafkaConnectionError,
    KafkaTimeoutError,
    ProtocolError,
    UnsupportedSaslMechanismError,
)

_RESPONSE_SIZE = re.compile(r"implausible response size (-?\d+)")
#: First byte of a TLS record: change_cipher_spec, alert, handshake, application_data.
_TLS_CONTENT_TYPES = frozenset({0x14, 0x15, 0x16, 0x17})

TLS_PORT_HINT = (
    "The port answered in TLS, not in Kafka's plaintext protocol: set "
    "SHAREGROUPS['KAFKA']['security.protocol'] to SSL (or SASL_SSL), or use the broker's "
    "PLAINTEXT listener."
)


def looks_like_tls(response_size: int) -> bool:
    """A plaintext client reads a TLS record header (type, 0x03, minor version) as a size."""
    head = response_size.to_bytes(4, "big", signed=True)
    return head[0] in _TLS_CONTENT_TYPES and head[1] == 0x03 and head[2] <= 0x04


def connection_hint(error: BaseException) -> str | None:
    """The likely cause of ``error`` and what to change, or None when there is nothing to add."""
    if isinstance(error, ProtocolError):
        match = _RESPONSE_SIZE.search(str(error))
        if match and looks_like_tls(int(match[1])):
            return TLS_PORT_HINT
        return None
    if isinstance(error, UnsupportedSaslMechanismError):
        return (
            "Set SHAREGROUPS['KAFKA']['sasl.mechanism'] to a mechanism the broker enables "
            "(listed above)."
        )
    if isinstance(error, AuthenticationError):
        return (
            "Check sasl.username and sasl.password in SHAREGROUPS['KAFKA'], and that "
            "sasl.mechanism is the one the user was created for (SCRAM credentials exist per "
            "mechanism)."
        )
    if isinstance(error, KafkaTimeoutError):
        return (
            "The broker did not answer in time: is bootstrap.servers a Kafka listener, and does "
            "security.protocol match it (a TLS port waits for a handshake)?"
        )
    if isinstance(error, KafkaConnectionError):
        text = str(error)
        if "closed the connection" in text or "reset by peer" in text:
            return (
                "The broker hung up: the listener may expect TLS or SASL; check "
                "security.protocol (SSL, SASL_PLAINTEXT, SASL_SSL) in SHAREGROUPS['KAFKA']."
            )
        return (
            "Is the broker running, and is KAFKA_BOOTSTRAP_SERVERS (or "
            "SHAREGROUPS['KAFKA']['bootstrap.servers']) the host:port of one of its listeners?"
        )
    return None
