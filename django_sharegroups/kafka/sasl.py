"""SASL client mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) as message exchanges.

Each mechanism is a generator: it yields the bytes to send in a SaslAuthenticate request and
receives the broker's answer, so the connection drives any mechanism with one loop.
SCRAM (RFC 5802/7677) needs only ``hashlib``/``hmac``; the password is used as given
(no SASLprep normalisation), which matches librdkafka for ASCII passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Generator

from .errors import AuthenticationError

SaslExchange = Generator[bytes, bytes, None]

_SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def sasl_exchange(mechanism: str, username: str | None, password: str | None) -> SaslExchange:
    if username is None or password is None:
        raise AuthenticationError(f"SASL {mechanism} needs sasl.username and sasl.password")
    if mechanism == "PLAIN":
        return plain_exchange(username, password)
    if mechanism in _SCRAM_HASHES:
        return scram_exchange(_SCRAM_HASHES[mechanism], username, password)
    raise AuthenticationError(f"SASL mechanism {mechanism} is not supported")


def plain_exchange(username: str, password: str) -> SaslExchange:
    yield b"\0" + username.encode() + b"\0" + password.encode()


def scram_exchange(
    hash_name: str, username: str, password: str, nonce: str | None = None
) -> SaslExchange:
    client_nonce = nonce or secrets.token_urlsafe(24)
    escaped_user = username.replace("=", "=3D").replace(",", "=2C")
    client_first_bare = f"n={escaped_user},r={client_nonce}"
    server_first = (yield f"n,,{client_first_bare}".encode()).decode()

    attributes = _scram_attributes(server_first)
    server_nonce, salt, iterations = attributes.get("r"), attributes.get("s"), attributes.get("i")
    if "e" in attributes:
        raise AuthenticationError(f"SCRAM rejected by the broker: {attributes['e']}")
    if not server_nonce or not salt or not iterations:
        raise AuthenticationError(f"malformed SCRAM server-first message: {server_first!r}")
    if not server_nonce.startswith(client_nonce):
        raise AuthenticationError("SCRAM server nonce does not extend the client nonce")

    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), _base64(salt), int(iterations))
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    stored_key = hashlib.new(hash_name, client_key).digest()
    client_final_bare = f"c=biws,r={server_nonce}"
    auth_message = f"{client_first_bare},{server_first},{client_final_bare}".encode()
    client_signature = hmac.digest(stored_key, auth_message, hash_name)
    proof = bytes(a ^ b for a, b in zip(client_key, client_signature, strict=True))
    server_final = (
        yield f"{client_final_bare},p={base64.b64encode(proof).decode()}".encode()
    ).decode()

    final_attributes = _scram_attributes(server_final)
    if "e" in final_attributes:
        raise AuthenticationError(f"SCRAM rejected by the broker: {final_attributes['e']}")
    server_key = hmac.digest(salted, b"Server Key", hash_name)
    expected = hmac.digest(server_key, auth_message, hash_name)
    signature = final_attributes.get("v", "")
    if not hmac.compare_digest(_base64(signature), expected):
        raise AuthenticationError("SCRAM server signature does not match: not the real broker?")


def _scram_attributes(message: str) -> dict[str, str]:
    attributes = {}
    for part in message.split(","):
        key, separator, value = part.partition("=")
        if separator:
            attributes[key] = value
    return attributes


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise AuthenticationError(f"SCRAM message has bad base64: {value!r}") from None
