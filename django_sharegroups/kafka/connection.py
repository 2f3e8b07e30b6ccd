"""One TCP (optionally TLS) connection to one broker: framing, correlation ids, version
negotiation, SASL, and timeouts on every read so that no call can hang.

Requests are strictly one at a time per connection (a lock serialises callers); the admin
client never pipelines. Any transport or protocol failure closes the connection, because the
byte stream can no longer be trusted; the next request opens a fresh one.
"""

from __future__ import annotations

import itertools
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from .config import ConnectionConfig
from .errors import (
    ErrorCode,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    ProtocolError,
    UnsupportedApiError,
    error_for_code,
    raise_for_error_code,
)
from .protocol import Api, Struct, decode_response, encode_request, peek_correlation_id
from .protocol.messages import API_VERSIONS, SASL_AUTHENTICATE, SASL_HANDSHAKE
from .sasl import sasl_exchange

logger = logging.getLogger(__name__)

MAX_RESPONSE_SIZE = 100 * 1024 * 1024
"""Larger size prefixes are treated as corruption rather than allocated."""

_SIZE_PREFIX = 4
_ABORT_ON_CLOSE = struct.pack("ii", 1, 0)

WireObserver = Callable[[str, Api, int, bytes | bytearray], None]
"""Called with ("request"|"response", api, version, frame) for every frame; used to record
protocol fixtures and for debugging."""


class PendingResponse:
    """A request sent by :meth:`BrokerConnection.begin`; its response or error once read."""

    __slots__ = ("api", "version", "correlation_id", "response", "error")

    def __init__(self, api: Api, version: int) -> None:
        self.api = api
        self.version = version
        self.correlation_id = -1
        self.response: Struct | None = None
        self.error: KafkaError | None = None


def _software_version() -> str:
    try:
        return metadata.version("django-sharegroups")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class BrokerConnection:
    """A connection to ``host:port`` that knows which API versions the broker speaks."""

    def __init__(
        self,
        host: str,
        port: int,
        config: ConnectionConfig,
        *,
        node_id: int | None = None,
        wire_observer: WireObserver | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.node_id = node_id
        self.config = config
        self.api_versions: dict[int, tuple[int, int]] = {}
        self.finalized_features: dict[str, int] = {}
        """Cluster-wide feature levels (``share.version``, ...) from ApiVersions v3+."""
        self._wire_observer = wire_observer
        self._socket: socket.socket | None = None
        self._lock = threading.RLock()
        self._correlation_ids = itertools.count(1)
        #: Requests sent by ``begin`` whose responses have not been read yet, oldest first.
        self._pending: deque[PendingResponse] = deque()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed"
        return f"<BrokerConnection {self.host}:{self.port} node={self.node_id} {state}>"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._socket is not None

    # -- lifecycle ------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the socket, do TLS, negotiate API versions and authenticate (if configured)."""
        with self._lock:
            if self._socket is not None:
                return
            deadline = time.monotonic() + self.config.connect_timeout
            try:
                self._socket = self._open_socket()
                self._negotiate_api_versions(deadline)
                if self.config.uses_sasl:
                    self._authenticate(deadline)
            except BaseException:
                self.close()
                raise
            logger.debug("connected to %s (node %s)", self.address, self.node_id)

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                try:
                    self._socket.close()
                except OSError:
                    pass
            self._socket = None
            while self._pending:  # their answers can no longer arrive
                self._pending.popleft().error = KafkaConnectionError(
                    f"connection to {self.address} closed before the response"
                )

    def _open_socket(self) -> socket.socket:
        try:
            raw = socket.create_connection(
                (self.host, self.port), timeout=self.config.connect_timeout
            )
        except TimeoutError:
            raise KafkaTimeoutError(f"connecting to {self.address} timed out") from None
        except OSError as error:
            raise KafkaConnectionError(f"cannot connect to {self.address}: {error}") from None
        if _connected_to_itself(raw):
            # With nothing listening on the port, a connect to a local port in the ephemeral
            # range can be given that very port as its source (TCP simultaneous open): the
            # client then talks to itself and holds the port the broker needs to restart.
            # Abort it (linger 0, a reset) so the port is not even held in TIME_WAIT.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT_ON_CLOSE)
            raw.close()
            raise KafkaConnectionError(
                f"cannot connect to {self.address}: the socket connected to itself "
                "(nothing listens there)"
            )
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.config.uses_tls:
            return raw
        try:
            return self.config.ssl_context().wrap_socket(raw, server_hostname=self.host)
        except TimeoutError:
            raw.close()
            raise KafkaTimeoutError(f"TLS handshake with {self.address} timed out") from None
        except OSError as error:
            raw.close()
            raise KafkaConnectionError(
                f"TLS handshake with {self.address} failed: {error}"
            ) from None

    # -- requests -------------------------------------------------------------------------

    def version_for(self, api: Api, minimum: int | None = None) -> int:
        """The highest version of ``api`` both sides speak (at least ``minimum``)."""
        if not self.api_versions:
            self.connect()
        broker = self.api_versions.get(api.key)
        if broker is None:
            raise UnsupportedApiError(
                api.name, api.key, f"the broker at {self.address} does not support this API"
            )
        lowest = max(api.versions.lowest, broker[0], minimum or 0)
        highest = min(api.versions.newest, broker[1])
        if lowest > highest:
            wanted = f"{minimum}+" if minimum is not None else str(api.versions)
            raise UnsupportedApiError(
                api.name,
                api.key,
                f"the broker at {self.address} speaks versions {broker[0]}-{broker[1]}, "
                f"this client needs {wanted}",
            )
        return highest

    def send(
        self,
        api: Api,
        body: Mapping[str, Any] | Struct,
        *,
        version: int | None = None,
        minimum_version: int | None = None,
    ) -> Struct:
        """Send one request and wait (at most ``request_timeout``) for its response."""
        with self._lock:
            self.connect()
            if version is None:
                version = self.version_for(api, minimum_version)
            deadline = time.monotonic() + self.config.request_timeout
            return self._round_trip(api, version, body, deadline)

    def begin(
        self,
        api: Api,
        body: Mapping[str, Any] | Struct,
        *,
        minimum_version: int | None = None,
    ) -> PendingResponse:
        """Send one request without waiting for its response; ``finish`` reads it.

        The broker answers a connection's requests one at a time, in order, so a pipelined
        request never overtakes an earlier one; a later request on this connection (``send``
        or ``begin``) reads the earlier answers first and keeps them for ``finish``.
        """
        with self._lock:
            self.connect()
            version = self.version_for(api, minimum_version)
            deadline = time.monotonic() + self.config.request_timeout
            pending = PendingResponse(api, version)
            pending.correlation_id = self._send_request(api, version, body, deadline)
            self._pending.append(pending)
            return pending

    def finish(self, pending: PendingResponse) -> Struct:
        """The response of a request sent by ``begin`` (waiting at most ``request_timeout``
        from now), or the error that ended it."""
        with self._lock:
            while pending.response is None and pending.error is None and self._pending:
                self._read_pending()
        if pending.error is not None:
            raise pending.error
        if pending.response is None:
            raise KafkaConnectionError(f"{pending.api.name} to {self.address}: no response")
        return pending.response

    def _read_pending(self) -> None:
        """Read the answer of the oldest pipelined request (the connection lock is held)."""
        pending = self._pending.popleft()
        deadline = time.monotonic() + self.config.request_timeout
        try:
            pending.response = self._read_response(
                pending.api, pending.version, pending.correlation_id, deadline
            )
        except KafkaError as error:
            pending.error = error

    def _round_trip(
        self, api: Api, version: int, body: Mapping[str, Any] | Struct, deadline: float
    ) -> Struct:
        while self._pending:  # answers to pipelined requests come first
            self._read_pending()
        correlation_id = self._send_request(api, version, body, deadline)
        return self._read_response(api, version, correlation_id, deadline)

    def _send_request(
        self, api: Api, version: int, body: Mapping[str, Any] | Struct, deadline: float
    ) -> int:
        """Send a request frame; a transport failure closes the connection."""
        correlation_id = next(self._correlation_ids) & 0x7FFFFFFF
        frame = encode_request(api, version, correlation_id, self.config.client_id, body)
        if self._wire_observer:
            self._wire_observer("request", api, version, frame)
        try:
            self._send_frame(frame, deadline)
        except (KafkaConnectionError, OSError) as error:
            self.close()
            if isinstance(error, KafkaConnectionError):
                raise
            raise KafkaConnectionError(f"{api.name} to {self.address} failed: {error}") from None
        return correlation_id

    def _read_response(
        self, api: Api, version: int, correlation_id: int, deadline: float
    ) -> Struct:
        try:
            response = self._receive_frame(deadline)
            if self._wire_observer:
                self._wire_observer("response", api, version, response)
            received_id = peek_correlation_id(response)
            if received_id != correlation_id:
                raise ProtocolError(
                    f"{api.name}: correlation id {received_id} from {self.address}, "
                    f"expected {correlation_id}"
                )
            return decode_response(api, version, response)[1]
        except ProtocolError as error:
            self.close()
            raise ProtocolError(f"{api.name} v{version} from {self.address}: {error}") from None
        except (KafkaConnectionError, OSError) as error:
            self.close()
            if isinstance(error, KafkaConnectionError):
                raise
            raise KafkaConnectionError(f"{api.name} to {self.address} failed: {error}") from None

    def _send_frame(self, frame: bytes, deadline: float) -> None:
        sock = self._require_socket()
        self._set_timeout(sock, deadline)
        try:
            sock.sendall(len(frame).to_bytes(_SIZE_PREFIX, "big") + frame)
        except TimeoutError:
            raise KafkaTimeoutError(f"sending to {self.address} timed out") from None

    def _receive_frame(self, deadline: float) -> bytearray:
        size = int.from_bytes(self._receive_exactly(_SIZE_PREFIX, deadline), "big", signed=True)
        if size < 4 or size > MAX_RESPONSE_SIZE:
            raise ProtocolError(f"implausible response size {size}")
        return self._receive_exactly(size, deadline)

    def _receive_exactly(self, size: int, deadline: float) -> bytearray:
        """``size`` bytes, in a buffer of their own (not copied again: a ShareFetch answer
        carries whole record batches, often hundreds of kilobytes)."""
        sock = self._require_socket()
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            self._set_timeout(sock, deadline)
            try:
                count = sock.recv_into(view[received:])
            except TimeoutError:
                raise KafkaTimeoutError(
                    f"no response from {self.address} within {self.config.request_timeout:g}s"
                ) from None
            if count == 0:
                raise KafkaConnectionError(f"{self.address} closed the connection")
            received += count
        return buffer

    def _set_timeout(self, sock: socket.socket, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KafkaTimeoutError(f"request to {self.address} timed out")
        sock.settimeout(remaining)

    def _require_socket(self) -> socket.socket:
        if self._socket is None:
            raise KafkaConnectionError(f"not connected to {self.address}")
        return self._socket

    # -- handshake ------------------------------------------------------------------------

    def _negotiate_api_versions(self, deadline: float) -> None:
        body = {
            "client_software_name": "django-sharegroups",
            "client_software_version": _software_version(),
        }
        version = API_VERSIONS.versions.newest
        response = self._round_trip(API_VERSIONS, version, body, deadline)
        if response.error_code == ErrorCode.UNSUPPORTED_VERSION:
            broker_max = next(
                (k.max_version for k in response.api_keys if k.api_key == API_VERSIONS.key), 0
            )
            version = min(version, broker_max)
            logger.debug("%s speaks ApiVersions up to v%d", self.address, broker_max)
            response = self._round_trip(API_VERSIONS, version, body, deadline)
        raise_for_error_code(response.error_code, context=f"ApiVersions from {self.address}")
        self.api_versions = {
            key.api_key: (key.min_version, key.max_version) for key in response.api_keys
        }
        self.finalized_features = {
            feature.name: feature.max_version_level for feature in response.finalized_features
        }

    def _authenticate(self, deadline: float) -> None:
        config = self.config
        mechanism = config.sasl_mechanism
        handshake_version = self.version_for(SASL_HANDSHAKE, minimum=1)
        handshake = self._round_trip(
            SASL_HANDSHAKE, handshake_version, {"mechanism": mechanism}, deadline
        )
        if handshake.error_code:
            enabled = ", ".join(handshake.mechanisms) or "none"
            raise error_for_code(
                handshake.error_code,
                f"the broker enables {enabled}",
                context=f"SASL {mechanism} at {self.address}",
            )
        authenticate_version = self.version_for(SASL_AUTHENTICATE)
        exchange = sasl_exchange(mechanism, config.sasl_username, config.sasl_password)
        message = next(exchange)
        while True:
            response = self._round_trip(
                SASL_AUTHENTICATE, authenticate_version, {"auth_bytes": message}, deadline
            )
            raise_for_error_code(
                response.error_code,
                response.error_message,
                context=f"SASL {mechanism} at {self.address}",
            )
            try:
                message = exchange.send(response.auth_bytes)
            except StopIteration:
                return


def _connected_to_itself(sock: socket.socket) -> bool:
    try:
        return sock.getsockname() == sock.getpeername()
    except OSError:
        return False
