"""Whole request and response frames: header + body, minus the 4-byte size prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ErrorCode, ProtocolError
from .codec import Struct, decode, decode_from, encode
from .messages import REQUEST_HEADER, RESPONSE_HEADER
from .primitives import Reader
from .schema import API_VERSIONS_KEY, Api


def encode_request(
    api: Api,
    version: int,
    correlation_id: int,
    client_id: str | None,
    body: Mapping[str, Any] | Struct,
) -> bytes:
    header = {
        "request_api_key": api.key,
        "request_api_version": version,
        "correlation_id": correlation_id,
        "client_id": client_id,
    }
    header_bytes = encode(REQUEST_HEADER, api.request_header_version(version), header)
    return header_bytes + encode(api.request, version, body)


def decode_request(api: Api, frame: bytes) -> tuple[Struct, Struct]:
    """The header and body of a request frame (for tests and recorded fixtures)."""
    reader = Reader(frame)
    api_key, version = reader.int16(), reader.int16()
    if api_key != api.key:
        raise ProtocolError(f"expected a {api.name} request, got api key {api_key}")
    reader = Reader(frame)
    header = decode_from(reader, REQUEST_HEADER, api.request_header_version(version))
    body = decode(api.request, version, bytes(frame[reader.position :]))
    return header, body


def encode_response(
    api: Api, version: int, correlation_id: int, body: Mapping[str, Any] | Struct
) -> bytes:
    """A response frame, as a broker would send it (for tests and fake brokers)."""
    header_version = api.response_header_version(version)
    header = encode(RESPONSE_HEADER, header_version, {"correlation_id": correlation_id})
    return header + encode(api.response, version, body)


def peek_correlation_id(frame: bytes | bytearray) -> int:
    """Every response header starts with the correlation id, whatever its version."""
    return Reader(frame).int32()


def decode_response(
    api: Api, version: int, frame: bytes | bytearray | memoryview
) -> tuple[int, Struct]:
    """The correlation id and decoded body of a response frame (``records`` fields are views
    into ``frame``, not copies)."""
    reader = Reader(frame)
    header = decode_from(reader, RESPONSE_HEADER, api.response_header_version(version))
    body = memoryview(frame)[reader.position :]
    if (
        api.key == API_VERSIONS_KEY
        and version > 0
        and _error_code(body) == ErrorCode.UNSUPPORTED_VERSION
    ):
        # A broker that does not speak our ApiVersions version answers in version 0, listing
        # the versions it does speak, so that the client can retry with one of them.
        version = 0
    return header.correlation_id, decode(api.response, version, body)


def _error_code(body: memoryview) -> int | None:
    if len(body) < 2:
        return None
    return Reader(body).int16()
