"""librdkafka's in-process mock Kafka cluster, reached through ctypes.

Why: confluent-kafka's wheel bundles librdkafka, whose mock cluster speaks the real Kafka
protocol on 127.0.0.1 — share groups included (ShareGroupHeartbeat, ShareFetch,
ShareAcknowledge) — and starts in milliseconds without a JVM. Any Kafka client, the
``confluent_kafka.ShareConsumer`` too, connects to ``MockCluster.bootstrap_servers``.

Share-group settings of the mock apply to the whole mock cluster (every group), not to one
group as ``share.*`` group configs do on a real broker.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ..exceptions import ShareGroupsError

_RD_KAFKA_PRODUCER = 0
_AUTO_OFFSET_RESET = {"latest": 0, "earliest": 1}


class MockClusterError(ShareGroupsError, RuntimeError):
    """librdkafka refused a mock-cluster call (the message names the call and error)."""


def find_librdkafka() -> Path:
    """Path of the librdkafka shared library inside the installed confluent-kafka wheel."""
    import confluent_kafka

    package = Path(confluent_kafka.__file__).resolve().parent
    patterns = [
        (package.parent / "confluent_kafka.libs", "librdkafka*.so*"),  # Linux (auditwheel)
        (package / ".dylibs", "librdkafka*.dylib"),  # macOS (delocate)
        (package.parent / "confluent_kafka.libs", "librdkafka*.dll"),  # Windows (delvewheel)
    ]
    for directory, pattern in patterns:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
    raise MockClusterError(f"no librdkafka library found next to {package}")


# Keyword of MockCluster.set_share_group() -> librdkafka setter (all take one int).
_SHARE_GROUP_SETTINGS = {
    "auto_offset_reset": "rd_kafka_mock_sharegroup_set_auto_offset_reset",
    "record_lock_duration_ms": "rd_kafka_mock_sharegroup_set_record_lock_duration",
    "delivery_count_limit": "rd_kafka_mock_sharegroup_set_max_delivery_attempts",
    "session_timeout_ms": "rd_kafka_mock_sharegroup_set_session_timeout",
    "heartbeat_interval_ms": "rd_kafka_mock_sharegroup_set_heartbeat_interval",
    "isolation_level": "rd_kafka_mock_sharegroup_set_isolation_level",
    "max_size": "rd_kafka_mock_sharegroup_set_max_size",
    "max_record_locks": "rd_kafka_mock_sharegroup_set_max_record_locks",
    "max_fetch_sessions": "rd_kafka_mock_sharegroup_set_max_fetch_sessions",
}


@functools.cache
def _library() -> ctypes.CDLL:
    """Load librdkafka once and declare the signatures we call (from rdkafka.h, rdkafka_mock.h)."""
    lib = ctypes.CDLL(str(find_librdkafka()))
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    signatures: dict[str, tuple[type | None, list[type]]] = {
        "rd_kafka_conf_new": (p, []),
        "rd_kafka_conf_set": (i, [p, s, s, s, ctypes.c_size_t]),
        "rd_kafka_conf_destroy": (None, [p]),
        "rd_kafka_new": (p, [i, p, s, ctypes.c_size_t]),
        "rd_kafka_destroy": (None, [p]),
        "rd_kafka_err2str": (s, [i]),
        "rd_kafka_mem_free": (None, [p, p]),
        "rd_kafka_mock_cluster_new": (p, [p, i]),
        "rd_kafka_mock_cluster_destroy": (None, [p]),
        "rd_kafka_mock_cluster_bootstraps": (s, [p]),
        "rd_kafka_mock_topic_create": (i, [p, s, i, i]),
        "rd_kafka_mock_broker_set_down": (i, [p, ctypes.c_int32]),
        "rd_kafka_mock_broker_set_up": (i, [p, ctypes.c_int32]),
        "rd_kafka_mock_broker_set_rtt": (i, [p, ctypes.c_int32, i]),
        "rd_kafka_mock_push_request_errors_array": (
            None,
            [p, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(i)],
        ),
        "rd_kafka_topic_partition_list_new": (p, [i]),
        "rd_kafka_topic_partition_list_add": (p, [p, s, ctypes.c_int32]),
        "rd_kafka_topic_partition_list_destroy": (None, [p]),
        "rd_kafka_mock_sharegroup_target_assignment": (
            None,
            [p, s, ctypes.POINTER(s), ctypes.POINTER(p), ctypes.c_size_t],
        ),
        "rd_kafka_mock_sharegroup_get_member_ids": (
            i,
            [p, s, ctypes.POINTER(ctypes.POINTER(p)), ctypes.POINTER(ctypes.c_size_t)],
        ),
    }
    for setting in _SHARE_GROUP_SETTINGS.values():
        signatures[setting] = (None, [p, i])
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


class MockCluster:
    """A running mock cluster with ``brokers`` brokers; close it (or use ``with``) to stop it.

    The mock needs an ``rd_kafka_t`` to live in (it runs on that handle's threads), so a
    bare, unconnected producer handle is created for it and destroyed with it.
    """

    def __init__(self, brokers: int = 1) -> None:
        lib = _library()
        error = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        lib.rd_kafka_conf_set(conf, b"log_level", b"3", error, len(error))  # no config warnings
        self._handle = lib.rd_kafka_new(_RD_KAFKA_PRODUCER, conf, error, len(error))
        if not self._handle:
            lib.rd_kafka_conf_destroy(conf)  # rd_kafka_new owns conf only on success
            raise MockClusterError(f"rd_kafka_new: {error.value.decode()}")
        self._cluster = lib.rd_kafka_mock_cluster_new(self._handle, brokers)
        if not self._cluster:
            lib.rd_kafka_destroy(self._handle)
            raise MockClusterError("rd_kafka_mock_cluster_new failed")
        self.broker_count = brokers
        self.bootstrap_servers: str = lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()

    def _live(self) -> int:
        if not self._cluster:
            raise MockClusterError("the mock cluster is closed")
        return self._cluster

    @staticmethod
    def _check(call: str, error_code: int) -> None:
        if error_code:
            message = _library().rd_kafka_err2str(error_code).decode()
            raise MockClusterError(f"{call}: {message} ({error_code})")

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1) -> None:
        """Create a topic (the mock would otherwise auto-create it on first use)."""
        code = _library().rd_kafka_mock_topic_create(
            self._live(), name.encode(), partitions, replication_factor
        )
        self._check(f"create_topic({name!r})", code)

    def set_share_group(
        self,
        *,
        auto_offset_reset: str | None = None,
        record_lock_duration_ms: int | None = None,
        delivery_count_limit: int | None = None,
        **settings: int,
    ) -> None:
        """Change share-group behaviour for every group of this cluster.

        ``auto_offset_reset`` is ``"earliest"`` or ``"latest"`` (the mock's and Kafka's default).
        ``delivery_count_limit`` archives a record after that many deliveries (mock default 5,
        0 = unlimited). Further keywords: session_timeout_ms, heartbeat_interval_ms,
        isolation_level (0/1), max_size, max_record_locks, max_fetch_sessions; session and
        heartbeat settings only reach groups created afterwards.
        """
        if auto_offset_reset is not None:
            settings["auto_offset_reset"] = _AUTO_OFFSET_RESET[auto_offset_reset]
        if record_lock_duration_ms is not None:
            settings["record_lock_duration_ms"] = record_lock_duration_ms
        if delivery_count_limit is not None:
            settings["delivery_count_limit"] = delivery_count_limit
        unknown = set(settings) - set(_SHARE_GROUP_SETTINGS)
        if unknown:
            raise TypeError(f"unknown share-group settings: {', '.join(sorted(unknown))}")
        lib, cluster = _library(), self._live()
        for name, value in settings.items():
            getattr(lib, _SHARE_GROUP_SETTINGS[name])(cluster, int(value))

    def share_group_member_ids(self, group: str) -> list[str]:
        """Member ids the mock's share-group coordinator knows for ``group`` ([] if none)."""
        lib = _library()
        array, count = ctypes.POINTER(ctypes.c_void_p)(), ctypes.c_size_t()
        code = lib.rd_kafka_mock_sharegroup_get_member_ids(
            self._live(), group.encode(), ctypes.byref(array), ctypes.byref(count)
        )
        if code or not array:
            return []
        members = [ctypes.string_at(array[index]).decode() for index in range(count.value)]
        for index in range(count.value):
            lib.rd_kafka_mem_free(None, array[index])
        lib.rd_kafka_mem_free(None, ctypes.cast(array, ctypes.c_void_p))
        return members

    def assign_share_group(
        self, group: str, assignment: Mapping[str, Sequence[tuple[str, int]]]
    ) -> None:
        """Replace the group's assignment: member id -> [(topic, partition), ...].

        The mock's own assignor gives each partition to one member only; Kafka's may give a
        partition to several members. This makes the mock share partitions the same way.
        The group switches to manual assignment for good; members see it on their next
        heartbeat.
        """
        lib = _library()
        members = list(assignment)
        lists = [lib.rd_kafka_topic_partition_list_new(len(assignment[m])) for m in members]
        try:
            for member, partitions in zip(members, lists, strict=True):
                for topic, partition in assignment[member]:
                    lib.rd_kafka_topic_partition_list_add(partitions, topic.encode(), partition)
            lib.rd_kafka_mock_sharegroup_target_assignment(
                self._live(),
                group.encode(),
                (ctypes.c_char_p * len(members))(*(m.encode() for m in members)),
                (ctypes.c_void_p * len(members))(*lists),
                len(members),
            )
        finally:
            for partitions in lists:
                lib.rd_kafka_topic_partition_list_destroy(partitions)

    def set_broker_down(self, broker_id: int = -1) -> None:
        """Make a broker (-1: all) drop connections and refuse new ones until set up again."""
        code = _library().rd_kafka_mock_broker_set_down(self._live(), broker_id)
        self._check("set_broker_down", code)

    def set_broker_up(self, broker_id: int = -1) -> None:
        code = _library().rd_kafka_mock_broker_set_up(self._live(), broker_id)
        self._check("set_broker_up", code)

    def set_broker_rtt(self, rtt_ms: int, broker_id: int = -1) -> None:
        """Delay every response of a broker (-1: all) by ``rtt_ms``."""
        code = _library().rd_kafka_mock_broker_set_rtt(self._live(), broker_id, rtt_ms)
        self._check("set_broker_rtt", code)

    def push_request_errors(self, api_key: int, *error_codes: int) -> None:
        """Answer the next requests with this API key with these error codes, in order."""
        errors = (ctypes.c_int * len(error_codes))(*error_codes)
        _library().rd_kafka_mock_push_request_errors_array(
            self._live(), api_key, len(error_codes), errors
        )

    def close(self) -> None:
        """Stop the cluster, then its host handle; safe to call twice."""
        lib = _library()
        if self._cluster:
            lib.rd_kafka_mock_cluster_destroy(self._cluster)
            self._cluster = None
        if self._handle:
            lib.rd_kafka_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> MockCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.bootstrap_servers if self._cluster else "closed"
        return f"<MockCluster brokers={self.broker_count} {state}>"


if __name__ == "__main__":  # manual smoke check: prints the mock's bootstrap address
    with MockCluster() as mock:
        print(mock.bootstrap_servers)
