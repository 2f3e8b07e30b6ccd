"""A scriptable in-process broker for connection tests: it answers (or refuses to answer)
each request exactly as a test tells it to, including misbehaving on purpose."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django_sharegroups.kafka.protocol import API_BY_KEY, encode_response
from django_sharegroups.kafka.protocol.codec import decode, decode_from
from django_sharegroups.kafka.protocol.messages import API_VERSIONS, REQUEST_HEADER
from django_sharegroups.kafka.protocol.primitives import Reader

DEFAULT_API_VERSIONS = {
    api.key: (api.versions.lowest, api.versions.highest) for api in API_BY_KEY.values()
}


@dataclass
class ReceivedRequest:
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None
    body: object


@dataclass
class RawReply:
    """Bytes sent exactly as given (size prefix included, true or not), then hang up."""

    data: bytes


# A handler gets the decoded request and returns the frame to send back (the broker adds the
# size prefix), None to send nothing, or a RawReply; raising CloseConnection hangs up.
Handler = Callable[[ReceivedRequest], "bytes | RawReply | None"]


class CloseConnection(Exception):
    pass


@dataclass
class FakeBroker:
    handlers: dict[int, Handler] = field(default_factory=dict)
    api_versions: dict[int, tuple[int, int]] = field(
        default_factory=lambda: dict(DEFAULT_API_VERSIONS)
    )
    ssl_context: ssl.SSLContext | None = None
    received: list[ReceivedRequest] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped.set()
        self._server.close()

    def __enter__(self) -> FakeBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle_client, args=(client,), daemon=True).start()

    def _handle_client(self, client: socket.socket) -> None:
        try:
            if self.ssl_context is not None:
                client = self.ssl_context.wrap_socket(client, server_side=True)
            while True:
                size_bytes = _receive(client, 4)
                if size_bytes is None:
                    return
                frame = _receive(client, int.from_bytes(size_bytes, "big"))
                if frame is None:
                    return
                request = self._decode(frame)
                self.received.append(request)
                handler = self.handlers.get(request.api_key)
                if handler is None and request.api_key == API_VERSIONS.key:
                    handler = self.answer_api_versions
                if handler is None:
                    return
                response = handler(request)
                if isinstance(response, RawReply):
                    client.sendall(response.data)
                    return
                if response is not None:
                    client.sendall(len(response).to_bytes(4, "big") + response)
        except (CloseConnection, OSError):
            pass
        finally:
            client.close()

    def _decode(self, frame: bytes) -> ReceivedRequest:
        reader = Reader(frame)
        api_key, version = reader.int16(), reader.int16()
        api = API_BY_KEY[api_key]
        reader = Reader(frame)
        header = decode_from(reader, REQUEST_HEADER, api.request_header_version(version))
        body = decode(api.request, version, frame[reader.position :])
        return ReceivedRequest(api_key, version, header.correlation_id, header.client_id, body)

    def answer_api_versions(self, request: ReceivedRequest) -> bytes:
        keys = [
            {"api_key": key, "min_version": low, "max_version": high}
            for key, (low, high) in sorted(self.api_versions.items())
        ]
        return respond(request, {"error_code": 0, "api_keys": keys})


def respond(request: ReceivedRequest, body: dict) -> bytes:
    """The response frame to ``request`` with ``body`` at the request's version."""
    api = API_BY_KEY[request.api_key]
    return encode_response(api, request.version, request.correlation_id, body)


def _receive(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
