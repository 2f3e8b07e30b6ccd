"""A real Apache Kafka 4.4 broker for tests: KRaft combined mode, one node, 127.0.0.1 only.

The broker's jars come from Maven Central (``kafka_pom.xml``) into ``.cache/kafka/libs``,
so a fresh machine with Java 17 and Maven runs it without any other download.

CLI::

    python -m tests.services.kafka fetch|start|wait|stop|status|features [--port N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tests.services import CACHE_DIR
from tests.services.tls import TlsFiles, ensure_tls_files, openssl_available

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

KAFKA_VERSION = "4.4.0"
DEFAULT_PORT = 19092
POM = Path(__file__).with_name("kafka_pom.xml")
LIBS_DIR = CACHE_DIR / "kafka" / "libs"
READY_TIMEOUT = 120.0
JVM_OPTIONS = [
    *("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"),
    *("-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"),
]

SASL_JAAS = {
    "plain": "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'user_alice="alice-secret";',
    "scram-sha-256": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "scram-sha-512": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
}


def server_properties(
    *,
    node_id: int,
    voters: str,
    listeners: Mapping[str, int],
    data_dir: Path,
    replicas: int = 1,
    tls: Mapping[str, Path] | None = None,
) -> str:
    """``server.properties`` of one KRaft node (broker and controller) on 127.0.0.1.

    ``listeners``: name → port; each name is also its security protocol (CONTROLLER and
    PLAINTEXT are plaintext); SASL listeners take the users alice/bob/carol. ``replicas``: 1
    for the one-node broker, 3 for the failover cluster (min ISR 2, so one node can die without
    losing an acknowledged write; new topics get ``replicas`` partitions). ``tls``: ``keystore``
    and ``ca`` files, for SSL (client certificate required) and SASL_SSL listeners. The
    share-group limits are lowered so lock-expiry tests run in seconds."""
    isr = min(replicas, 2)
    where = [f"{name}://127.0.0.1:{port}" for name, port in listeners.items()]
    properties: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "listeners": ",".join(where),
        "advertised.listeners": ",".join(w for w in where if not w.startswith("CONTROLLER:")),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(
            f"{name}:{'PLAINTEXT' if name == 'CONTROLLER' else name}" for name in listeners
        ),
        "log.dirs": data_dir,
        "num.partitions": replicas,
        "default.replication.factor": replicas,
        "min.insync.replicas": isr,
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": isr,
        "transaction.state.log.num.partitions": 3,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": isr,
        "share.coordinator.state.topic.num.partitions": 3,
        "group.initial.rebalance.delay.ms": 0,
        "group.share.min.record.lock.duration.ms": 1000,
        "group.share.min.session.timeout.ms": 6000,
        "group.share.session.timeout.ms": 10000,
        "group.share.min.heartbeat.interval.ms": 500,
        "group.share.heartbeat.interval.ms": 500,
        "group.share.min.assignment.interval.ms": 100,
        "group.share.assignment.interval.ms": 100,
        "log.retention.hours": 4,
        "log.segment.bytes": 16777216,
        "num.network.threads": 2,
        "num.io.threads": 4 if replicas == 1 else 2,  # three nodes share two cores
    }
    sasl = [name for name in listeners if name.startswith("SASL_")]
    if sasl:
        properties["sasl.enabled.mechanisms"] = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    for name in sasl:
        for mechanism, jaas in SASL_JAAS.items():
            properties[f"listener.name.{name.lower()}.{mechanism}.sasl.jaas.config"] = jaas
    if tls is not None:
        properties.update(
            {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": tls["keystore"],
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": tls["ca"],
                "listener.name.ssl.ssl.client.auth": "required",
            }
        )
    return "".join(f"{key}={value}\n" for key, value in properties.items())


LOG4J2_PROPERTIES = """\
status = warn
appender.server.type = File
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def java_executable() -> str | None:
    """The java binary: $JAVA_HOME/bin/java first (CI may pin one), else PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_command(main_class: str, *args: str, options: Sequence[str] = ()) -> list[str]:
    """``java [options] -cp .cache/kafka/libs/* main_class args``."""
    java = java_executable()
    if java is None:
        raise RuntimeError("java is not installed")
    return [java, *options, "-cp", f"{LIBS_DIR}/*", main_class, *args]


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_present() -> bool:
    """True when ``.cache/kafka/libs`` was filled from the current pom (a stamp holds its hash)."""
    stamp = LIBS_DIR / ".pom-sha256"
    return stamp.exists() and stamp.read_text().strip() == _pom_digest()


def unavailable_reason() -> str | None:
    """Why a broker cannot be started here, or None when it can."""
    if java_executable() is None:
        return "java is not installed (Java 17 runs the Kafka broker)"
    if not jars_present() and shutil.which("mvn") is None:
        return "Kafka jars are not in .cache/kafka/libs and mvn is not installed to fetch them"
    return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise start/stop/fetch between concurrent pytest sessions and CLI calls."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars() -> Path:
    """Resolve the broker's runtime classpath with Maven once; later calls are free."""
    with _file_lock(LIBS_DIR.parent / "libs.lock"):
        if jars_present():
            return LIBS_DIR
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("mvn is needed to fetch the Kafka jars from Maven Central")
        staging = LIBS_DIR.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies"]
        command.append(f"-DoutputDirectory={staging}")
        output = _run_with_progress(command)
        if output is not None:
            raise RuntimeError(f"mvn failed:\n{output}")
        (staging / ".pom-sha256").write_text(_pom_digest())
        shutil.rmtree(LIBS_DIR, ignore_errors=True)
        staging.rename(LIBS_DIR)
        return LIBS_DIR


def _run_with_progress(command: list[str]) -> str | None:
    """Run Maven, telling stderr how many jars it has fetched so far (a first fetch takes a
    minute or more); returns Maven's output when it fails, None when it succeeds."""
    print("fetching the Kafka 4.4 jars from Maven Central (once) ...", file=sys.stderr, flush=True)
    lines: list[str] = []
    fetched = 0
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if "Downloaded from" in line:
            fetched += 1
            if fetched % 10 == 0:
                print(f"  ... {fetched} files downloaded", file=sys.stderr, flush=True)
    if process.wait() != 0:
        return "".join(lines[-60:])
    print(f"  done: {fetched} file(s) downloaded, the rest from ~/.m2", file=sys.stderr, flush=True)
    return None


def _port_open(port: int, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _kafka_uuid() -> str:
    """A cluster id in Kafka's Uuid text form (url-safe base64 of 16 bytes, no padding), never
    starting with "-" (as Kafka's own ``Uuid.randomUuid``): the storage tool would read one
    that does as an option, and the format fails (1 run in 64)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaBroker:
    """One broker+controller JVM whose config, data and logs live in ``directory``."""

    #: Appended to JVM_OPTIONS (a later -Xmx wins), e.g. smaller heaps for cluster nodes.
    extra_jvm_options: tuple[str, ...] = ()

    def __init__(self, port: int = DEFAULT_PORT, directory: Path | str | None = None) -> None:
        self.port = port
        self.controller_port = port + 1
        #: SASL_PLAINTEXT listener: alice/alice-secret (PLAIN), bob/bob-secret
        #: (SCRAM-SHA-256), carol/carol-secret (SCRAM-SHA-512), for the SASL client tests.
        self.sasl_port = port + 2
        #: SSL listener requiring a client certificate (``tls`` holds the CA and client files)
        #: and SASL_SSL listener, when openssl is installed.
        self.ssl_port = port + 3
        self.sasl_ssl_port = port + 4
        self.directory = Path(directory or CACHE_DIR / "kafka" / f"broker-{port}").resolve()
        self.config_file = self.directory / "server.properties"
        self.log4j_file = self.directory / "log4j2.properties"
        self.data_dir = self.directory / "data"
        self.logs_dir = self.directory / "logs"
        self.pid_file = self.directory / "broker.pid"
        self.tls = TlsFiles(self.directory / "tls")
        #: KRaft identity: node 1, its own only voter, a fresh cluster id when first formatted.
        self.node_id = 1
        self.voters = f"1@127.0.0.1:{self.controller_port}"
        self.cluster_id = _kafka_uuid()
        self.replicas = 1

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The broker's pid when its JVM (this directory's config) is alive."""
        try:
            pid = int(self.pid_file.read_text())
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        if state in ("Z", "X"):
            return None
        # A just-exec'd process briefly shows an empty cmdline; otherwise it must be ours.
        return pid if not cmdline or str(self.config_file).encode() in cmdline else None

    def is_ready(self, timeout: float = 5.0) -> bool:
        """Ready: a real Metadata request is answered, listing this node and an elected
        controller."""
        if not _port_open(self.port):
            return False
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return self.node_id in metadata.brokers and metadata.controller_id > 0

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready(timeout=2.0):
                return
            if self.pid() is None:
                tail = self._log_tail()
                raise RuntimeError(f"Kafka broker is not running; see {self.logs_dir}\n{tail}")
            time.sleep(0.2)
        raise TimeoutError(f"Kafka broker not ready after {timeout:.0f}s; see {self.logs_dir}")

    def _log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("server.log", "stdout.log"):
            with contextlib.suppress(OSError):
                text += "\n".join((self.logs_dir / name).read_text().splitlines()[-lines:]) + "\n"
        return text

    def _logging_options(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            f"-Dkafka.logs.dir={self.logs_dir}",
        ]

    def listeners(self) -> dict[str, int]:
        """Listener name → port: PLAINTEXT, CONTROLLER, SASL_PLAINTEXT, and SSL and SASL_SSL
        (``port + 3``, ``port + 4``) when openssl can make their certificates."""
        listeners = {
            "PLAINTEXT": self.port,
            "CONTROLLER": self.controller_port,
            "SASL_PLAINTEXT": self.sasl_port,
        }
        if openssl_available():
            listeners.update(SSL=self.ssl_port, SASL_SSL=self.sasl_ssl_port)
        return listeners

    def _write_config(self) -> None:
        for path in (self.data_dir, self.logs_dir):
            path.mkdir(parents=True, exist_ok=True)
        listeners = self.listeners()
        tls = None
        if "SSL" in listeners:
            files = ensure_tls_files(self.tls.directory)
            tls = {"keystore": files.broker_keystore, "ca": files.ca}
        properties = server_properties(
            node_id=self.node_id,
            voters=self.voters,
            listeners=listeners,
            data_dir=self.data_dir,
            replicas=self.replicas,
            tls=tls,
        )
        self.config_file.write_text(properties)
        self.log4j_file.write_text(LOG4J2_PROPERTIES)

    def _format_storage(self) -> None:
        """Format the KRaft log dir once; share.version comes from the release's defaults."""
        if (self.data_dir / "meta.properties").exists():
            return
        command = java_command(
            "kafka.tools.StorageTool",
            *("format", "--cluster-id", self.cluster_id, "--config", str(self.config_file)),
            "--ignore-formatted",
            options=self._logging_options(),
        )
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"StorageTool format failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = READY_TIMEOUT) -> str:
        """Start the broker unless it runs already; return the bootstrap address once ready."""
        with _file_lock(self.directory / "broker.lock"):
            if self.pid() is None:
                ports = tuple(self.listeners().values())
                if any(_port_open(port) for port in ports):
                    raise RuntimeError(
                        f"a port of {ports} on 127.0.0.1 is taken by another process; "
                        "pick another --port"
                    )
                ensure_jars()
                self._write_config()
                self._format_storage()
                command = java_command(
                    "kafka.Kafka",
                    str(self.config_file),
                    options=JVM_OPTIONS + list(self.extra_jvm_options) + self._logging_options(),
                )
                with open(self.logs_dir / "stdout.log", "ab") as output:
                    process = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # outlives the pytest or CLI that started it
                    )
                self.pid_file.write_text(str(process.pid))
        self.wait_ready(timeout)
        self._ensure_scram_users()
        return self.bootstrap_servers

    def _ensure_scram_users(self) -> None:
        """SCRAM credentials live in the cluster metadata; (re)set them on every start."""
        if "SASL_PLAINTEXT" not in self.listeners():
            return
        from confluent_kafka.admin import (
            AdminClient,
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        upserts = [
            UserScramCredentialUpsertion(
                user, ScramCredentialInfo(mechanism, 4096), password.encode()
            )
            for user, mechanism, password in (
                ("bob", ScramMechanism.SCRAM_SHA_256, "bob-secret"),
                ("carol", ScramMechanism.SCRAM_SHA_512, "carol-secret"),
            )
        ]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(30)

    @property
    def sasl_bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after ``timeout``; returns once it is gone."""
        with _file_lock(self.directory / "broker.lock"):
            pid = self.pid()
            if pid is None:
                return
            os.kill(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 30.0)
            self.pid_file.unlink(missing_ok=True)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
            if self.pid() is None:
                return True
            time.sleep(0.1)
        return False

    def features(self) -> dict[str, int]:
        return finalized_features(self.bootstrap_servers)


class ClusterNode(KafkaBroker):
    """One node of :class:`KafkaCluster`: broker on ``port``, controller on ``port + 1``."""

    extra_jvm_options = ("-Xms128m", "-Xmx512m")

    def __init__(self, node_id: int, port: int, voters: str, cluster_id: str, directory: Path):
        super().__init__(port, directory)
        self.node_id, self.voters, self.cluster_id, self.replicas = node_id, voters, cluster_id, 3

    def listeners(self) -> dict[str, int]:
        """No SASL or TLS listeners on cluster nodes (``port + 3`` is the next node's
        controller)."""
        return {"PLAINTEXT": self.port, "CONTROLLER": self.controller_port}

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, leadership moves only when the cluster notices."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 30.0)
            self.pid_file.unlink(missing_ok=True)


class KafkaCluster:
    """Three (or ``size``) KRaft nodes on ports ``port``, ``port + 2``, ... (controllers on the
    odd ports after them), in ``directory``/node-N; the cluster id is kept in ``directory``."""

    def __init__(self, port: int, size: int = 3, directory: Path | str | None = None) -> None:
        self.directory = Path(directory or CACHE_DIR / "kafka" / f"cluster-{port}").resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        id_file = self.directory / "cluster.id"
        if not id_file.exists():
            id_file.write_text(_kafka_uuid())
        cluster_id = id_file.read_text().strip()
        ports = [port + 2 * index for index in range(size)]
        voters = ",".join(f"{n + 1}@127.0.0.1:{p + 1}" for n, p in enumerate(ports))
        self.nodes = [
            ClusterNode(n + 1, p, voters, cluster_id, self.directory / f"node-{n + 1}")
            for n, p in enumerate(ports)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> ClusterNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self, timeout: float = READY_TIMEOUT) -> str:
        """Start every node at once (a quorum needs a majority) and wait until all are ready."""
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            for future in [pool.submit(node.start, timeout) for node in self.nodes]:
                future.result()
        return self.bootstrap_servers

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def finalized_features(bootstrap_servers: str) -> dict[str, int]:
    """Finalized feature levels (e.g. ``share.version``) as a running broker reports them.

    confluent-kafka has no DescribeFeatures, so this runs Kafka's own FeatureCommand.
    """
    ensure_jars()
    command = java_command(
        "org.apache.kafka.tools.FeatureCommand", "--bootstrap-server", bootstrap_servers, "describe"
    )
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_features(output)


_FEATURE_LINE = re.compile(r"Feature:\s*(?P<name>\S+).*?FinalizedVersionLevel:\s*(?P<level>\S+)")


def parse_features(output: str) -> dict[str, int]:
    """Parse FeatureCommand's ``Feature: x ... FinalizedVersionLevel: n`` lines.

    Levels that are not plain numbers (``metadata.version`` prints ``4.4-IV2``) map to -1.
    """
    features: dict[str, int] = {}
    for match in _FEATURE_LINE.finditer(output):
        level = match["level"]
        features[match["name"]] = int(level) if level.isdigit() else -1
    return features


def unique_name(prefix: str) -> str:
    """A topic or group name no other test (or earlier run on the same broker) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topic(
    admin: AdminClient, partitions: int = 1, *, name: str | None = None, prefix: str = "test"
) -> str:
    """Create a topic (replication factor 1) and wait until the broker has it."""
    from confluent_kafka.admin import NewTopic

    name = name or unique_name(prefix)
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    return name


def alter_share_group_config(
    admin: AdminClient, group: str, configs: Mapping[str, str | int]
) -> None:
    """Set group configs (``share.auto.offset.reset``, ``share.record.lock.duration.ms``, ...).

    Works before the group exists; the broker validates names and its min/max limits.
    """
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    entries = [
        ConfigEntry(key, str(value), incremental_operation=AlterConfigOpType.SET)
        for key, value in configs.items()
    ]
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    admin.incremental_alter_configs([resource])[resource].result(30)


def describe_share_group_config(admin: AdminClient, group: str) -> dict[str, str]:
    """The group's effective configs (defaults included) as plain strings."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.GROUP, group)
    entries = admin.describe_configs([resource])[resource].result(30)
    return {key: entry.value for key, entry in entries.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.services.kafka", description=__doc__)
    parser.add_argument("command", choices=["fetch", "start", "wait", "stop", "status", "features"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="broker port (+1: KRaft)")
    parser.add_argument("--dir", default=None, help="instance directory (config, data, logs)")
    parser.add_argument("--timeout", type=float, default=READY_TIMEOUT)
    parser.add_argument(
        "--nodes", type=int, default=1, help="3: a KRaft cluster (start/stop/status only)"
    )
    args = parser.parse_args(argv)
    if args.nodes > 1:
        return cluster_main(args)
    broker = KafkaBroker(args.port, args.dir)
    if args.command == "fetch":
        print(ensure_jars())
    elif args.command == "start":
        print(broker.start(args.timeout))
    elif args.command == "wait":
        broker.wait_ready(args.timeout)
        print(broker.bootstrap_servers)
    elif args.command == "stop":
        broker.stop()
    elif args.command == "features":
        for name, level in sorted(broker.features().items()):
            print(f"{name}={level}")
    else:
        pid = broker.pid()
        ready = pid is not None and broker.is_ready()
        state = "ready" if ready else "starting" if pid else "stopped"
        print(f"{state} {broker.bootstrap_servers} pid={pid} dir={broker.directory}")
        return 0 if ready else 3
    return 0


def cluster_main(args: argparse.Namespace) -> int:
    cluster = KafkaCluster(args.port, args.nodes, args.dir)
    if args.command == "start":
        print(cluster.start(args.timeout))
    elif args.command == "stop":
        cluster.stop()
    elif args.command == "status":
        for node in cluster.nodes:
            pid = node.pid()
            state = "ready" if pid and node.is_ready() else "starting" if pid else "stopped"
            print(f"node {node.node_id}: {state} {node.bootstrap_servers} pid={pid}")
    else:
        raise SystemExit(f"{args.command} is for a single broker (leave out --nodes)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
        sys.exit(f"error: {error}")
