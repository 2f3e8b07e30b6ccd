"""The cluster as the admin client sees it: bootstrap, brokers and topics from Metadata,
group coordinators from FindCoordinator, one lazily opened connection per broker.

Retries live here, in one place: a broken connection is reopened and an idempotent request
re-sent once; "coordinator moved/loading/unavailable" errors make the coordinator be looked up
again until the request timeout runs out. Reconnecting to a broker whose last connection
attempt failed waits ``reconnect.backoff.ms``, doubling per failure up to
``reconnect.backoff.max.ms`` (jittered); until then a connect fails at once, naming the error.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .backoff import Backoff
from .config import ConnectionConfig
from .connection import BrokerConnection, WireObserver
from .errors import (
    COORDINATOR_ERROR_CODES,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    ProtocolError,
    error_for_code,
    raise_for_error_code,
)
from .protocol import Api, Struct
from .protocol.messages import FIND_COORDINATOR, METADATA
from .protocol.messages.cluster import COORDINATOR_KEY_TYPE_GROUP

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True)
class TopicMetadata:
    name: str
    topic_id: uuid.UUID
    partition_leaders: Mapping[int, int]
    """Partition index → node id of its leader (-1 while leaderless)."""
    error_code: int = 0
    is_internal: bool = False

    @property
    def partitions(self) -> list[int]:
        return sorted(self.partition_leaders)


@dataclass(frozen=True)
class ClusterMetadata:
    cluster_id: str | None
    controller_id: int
    brokers: Mapping[int, BrokerAddress]
    topics: Mapping[str, TopicMetadata] = field(default_factory=dict)

    def topic_names_by_id(self) -> dict[uuid.UUID, str]:
        return {topic.topic_id: name for name, topic in self.topics.items()}


class Cluster:
    """Connections to the brokers of one cluster, created from a :class:`ConnectionConfig`."""

    def __init__(self, config: ConnectionConfig, *, wire_observer: WireObserver | None = None):
        self.config = config
        self._wire_observer = wire_observer
        self._lock = threading.RLock()
        self._brokers: dict[int, BrokerAddress] = {}
        self._connections: dict[int, BrokerConnection] = {}
        self._bootstrap_connection: BrokerConnection | None = None
        self._coordinators: dict[str, int] = {}
        self._reconnects: dict[tuple[str, int], tuple[Backoff, str]] = {}

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
            if self._bootstrap_connection is not None:
                self._bootstrap_connection.close()
                self._bootstrap_connection = None

    # -- connections ----------------------------------------------------------------------

    def connection(self, node_id: int | None = None) -> BrokerConnection:
        """The connection to broker ``node_id``, or to any reachable broker when ``None``."""
        with self._lock:
            if node_id is None:
                return self._any_connection()
            connection = self._connections.get(node_id)
            if connection is None:
                address = self._brokers.get(node_id)
                if address is None:
                    self.metadata()
                    address = self._brokers.get(node_id)
                if address is None:
                    raise KafkaConnectionError(f"broker {node_id} is not in the cluster metadata")
                connection = self._new_connection(address.host, address.port, node_id)
                self._connections[node_id] = connection
            self._connect(connection)
            return connection

    def _connect(self, connection: BrokerConnection) -> None:
        """Connect unless connected, or fail at once while the address is backing off."""
        if connection.connected:
            return
        key = (connection.host, connection.port)
        backoff, last_error = self._reconnects.get(key, (None, ""))
        if backoff is not None and backoff.remaining() > 0:
            raise KafkaConnectionError(
                f"{last_error} (next attempt in {backoff.remaining():.2f}s, "
                f"{backoff.failures} failed so far)"
            )
        try:
            connection.connect()
        except KafkaError as error:
            if backoff is None:
                config = self.config
                backoff = Backoff(config.reconnect_backoff, config.reconnect_backoff_max)
            backoff.failed()
            self._reconnects[key] = (backoff, str(error))
            raise
        self._reconnects.pop(key, None)

    def _new_connection(self, host: str, port: int, node_id: int | None) -> BrokerConnection:
        return BrokerConnection(
            host, port, self.config, node_id=node_id, wire_observer=self._wire_observer
        )

    def _any_connection(self) -> BrokerConnection:
        for connection in [*self._connections.values(), self._bootstrap_connection]:
            if connection is not None and connection.connected:
                return connection
        candidates = [(address.host, address.port) for address in self._brokers.values()]
        candidates += [
            server for server in self.config.bootstrap_servers if server not in candidates
        ]
        failures = []
        for host, port in candidates:
            connection = self._new_connection(host, port, None)
            try:
                self._connect(connection)
            except KafkaConnectionError as error:
                failures.append(str(error))
                continue
            self._bootstrap_connection = connection
            return connection
        raise KafkaConnectionError("no broker reachable: " + "; ".join(failures))

    def request(
        self,
        api: Api,
        body: Mapping[str, Any] | Struct,
        *,
        node_id: int | None = None,
        minimum_version: int | None = None,
        idempotent: bool = True,
    ) -> Struct:
        """Send a request to a broker (any broker when ``node_id`` is ``None``).

        A broken connection is reopened and the request re-sent once when ``idempotent``.
        """
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            connection = self.connection(node_id)
            try:
                return connection.send(api, body, minimum_version=minimum_version)
            except KafkaTimeoutError:
                raise
            except KafkaConnectionError as error:
                if attempt + 1 == attempts:
                    raise
                logger.debug("retrying %s after connection failure: %s", api.name, error)
        raise AssertionError("unreachable")

    # -- metadata -------------------------------------------------------------------------

    def metadata(self, topics: list[str] | None = None) -> ClusterMetadata:
        """Brokers and topics (all topics when ``topics`` is ``None``); never creates topics."""
        wanted = None if topics is None else [{"name": name} for name in topics]
        response = self.request(
            METADATA, {"topics": wanted, "allow_auto_topic_creation": False}, minimum_version=10
        )
        raise_for_error_code(response.error_code, context="Metadata")
        brokers = {
            broker.node_id: BrokerAddress(broker.node_id, broker.host, broker.port, broker.rack)
            for broker in response.brokers
        }
        with self._lock:
            self._brokers.update(brokers)
        topic_metadata = {
            topic.name: TopicMetadata(
                name=topic.name,
                topic_id=topic.topic_id,
                partition_leaders={p.partition_index: p.leader_id for p in topic.partitions},
                error_code=topic.error_code,
                is_internal=topic.is_internal,
            )
            for topic in response.topics
            if topic.name is not None
        }
        return ClusterMetadata(
            cluster_id=response.cluster_id,
            controller_id=response.controller_id,
            brokers=brokers,
            topics=topic_metadata,
        )

    def brokers(self) -> dict[int, BrokerAddress]:
        return dict(self.metadata(topics=[]).brokers)

    def knows_broker(self, node_id: int) -> bool:
        """Whether ``node_id`` is a broker this client has seen in Metadata or FindCoordinator
        (no request is made)."""
        with self._lock:
            return node_id in self._brokers

    # -- group coordinators ---------------------------------------------------------------

    def find_coordinator(self, group_id: str, *, refresh: bool = False) -> int:
        """The node id of the broker coordinating ``group_id`` (cached until it moves)."""
        if not refresh and group_id in self._coordinators:
            return self._coordinators[group_id]
        deadline = time.monotonic() + self.config.request_timeout
        backoff = self._retry_backoff()
        while True:
            connection = self.connection()
            version = connection.version_for(FIND_COORDINATOR)
            body: dict[str, Any] = {"key_type": COORDINATOR_KEY_TYPE_GROUP}
            if version >= 4:
                body["coordinator_keys"] = [group_id]
            else:
                body["key"] = group_id
            response = self.request(FIND_COORDINATOR, body)
            coordinator = response
            if version >= 4:
                if len(response.coordinators) != 1:
                    raise ProtocolError(f"FindCoordinator for {group_id!r}: no single answer")
                coordinator = response.coordinators[0]
            if coordinator.error_code in COORDINATOR_ERROR_CODES and time.monotonic() < deadline:
                time.sleep(backoff.failed())
                continue
            raise_for_error_code(
                coordinator.error_code,
                coordinator.error_message,
                context=f"FindCoordinator for group {group_id!r}",
            )
            with self._lock:
                self._brokers[coordinator.node_id] = BrokerAddress(
                    coordinator.node_id, coordinator.host, coordinator.port
                )
                self._coordinators[group_id] = coordinator.node_id
            return coordinator.node_id

    def coordinator_request(
        self,
        group_id: str,
        api: Api,
        body: Mapping[str, Any] | Struct,
        error_of: Callable[[Struct], tuple[int, str | None]],
        *,
        minimum_version: int | None = None,
        idempotent: bool = True,
    ) -> Struct:
        """Send a request to the coordinator of ``group_id``, following it if it moves.

        ``error_of`` extracts the (error code, message) that says whether the coordinator was
        the right one; other errors are left for the caller to interpret.
        """
        deadline = time.monotonic() + self.config.request_timeout
        backoff = self._retry_backoff()
        refresh = False
        while True:
            node_id = self.find_coordinator(group_id, refresh=refresh)
            response = self.request(
                api, body, node_id=node_id, minimum_version=minimum_version, idempotent=idempotent
            )
            code, message = error_of(response)
            if code not in COORDINATOR_ERROR_CODES:
                return response
            if time.monotonic() >= deadline:
                raise error_for_code(code, message, context=f"{api.name} for group {group_id!r}")
            logger.debug("%s for %r: %s, retrying", api.name, group_id, code)
            refresh = True
            time.sleep(backoff.failed())

    def _retry_backoff(self) -> Backoff:
        """Waits between retries of one request (``retry.backoff.ms`` .. ``.max.ms``)."""
        return Backoff(self.config.retry_backoff, self.config.retry_backoff_max)
