"""A private PostgreSQL cluster for tests, on 127.0.0.1, from Debian's packages.

Why a private cluster instead of Debian's ``main`` one: it does not depend on systemd or
on how the package's post-install script went, and it runs with test settings (fsync off).
The data lives in /tmp because the ``postgres`` user must reach it and a CI checkout may
sit below a directory it cannot enter.

CLI::

    python -m tests.services.postgres install|start|stop|status|url [--dir PATH] [--port N]

``--port`` pins the port of a cluster that has not started yet (default: 5432 or the next
free one); once started, the cluster keeps its port in ``<dir>/port``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("SHAREGROUPS_POSTGRES_DIR", "/tmp/sharegroups-postgres"))
DEFAULT_PORT = 5432
ROLE = DATABASE = PASSWORD = "sharegroups"  # a throwaway local test cluster


def server_bin_dir() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` that has a server."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def install() -> Path:
    """apt-get install postgresql unless a server is already installed (needs root)."""
    bin_dir = server_bin_dir()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL is not installed and installing it needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise RuntimeError("apt-get installed postgresql but no server binary was found")
    return bin_dir


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class PostgresCluster:
    """A cluster in ``directory`` (data/, socket/, postgres.log, port) run by ``postgres``."""

    def __init__(self, directory: Path | str = DEFAULT_DIR, port: int | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.requested_port = port
        self.data_dir = self.directory / "data"
        self.socket_dir = self.directory / "socket"
        self.log_file = self.directory / "postgres.log"
        self.port_file = self.directory / "port"

    @property
    def port(self) -> int:
        """The port chosen when the cluster was first started (5432 or the next free one)."""
        if self.port_file.exists():
            return int(self.port_file.read_text())
        if self.requested_port is not None:
            return self.requested_port
        port = DEFAULT_PORT
        while not _port_free(port):
            port += 1
        return port

    @property
    def url(self) -> str:
        return f"postgres://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        """Run a PostgreSQL tool as ``postgres`` when we are root (the server refuses root)."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *map(str, command)], check=check, capture_output=True, text=True, cwd="/"
        )

    def _prepare_directory(self) -> None:
        for path in (self.directory, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")

    def is_running(self) -> bool:
        bin_dir = server_bin_dir()
        if bin_dir is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        return (
            self._run(bin_dir / "pg_ctl", "status", "-D", self.data_dir, check=False).returncode
            == 0
        )

    def start(self) -> str:
        """Install, initialise, start and provision the role and database; idempotent."""
        bin_dir = install()
        self._prepare_directory()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                bin_dir / "initdb",
                *("-D", self.data_dir, "-U", "postgres", "-E", "UTF8", "--no-locale"),
                *("--auth-local=trust", "--auth-host=scram-sha-256"),
            )
        if not self.is_running():
            port = self.port
            if self.requested_port is not None and port != self.requested_port:
                raise RuntimeError(
                    f"the cluster in {self.directory} was set up on port {port}, not "
                    f"{self.requested_port}; pass --dir for a new cluster or drop --port"
                )
            if not _port_free(port):
                raise RuntimeError(f"port {port} is already taken on 127.0.0.1")
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {self.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            result = self._run(
                bin_dir / "pg_ctl",
                *("start", "-w", "-t", "60", "-D", self.data_dir, "-l", self.log_file),
                *("-o", options),
                check=False,
            )
            if result.returncode != 0:
                log = self.log_file.read_text()[-3000:] if self.log_file.exists() else ""
                raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}{log}")
            self.port_file.write_text(str(port))
        self._provision(bin_dir)
        return self.url

    def _psql(self, bin_dir: Path, sql: str) -> str:
        result = self._run(
            bin_dir / "psql",
            *("-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-d", "postgres"),
            *("-v", "ON_ERROR_STOP=1", "-tAc", sql),
        )
        return result.stdout.strip()

    def _provision(self, bin_dir: Path) -> None:
        """Role with CREATEDB (Django creates test_<name> databases) and its own database."""
        self._psql(
            bin_dir,
            f"DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
            f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; "
            f"ELSE ALTER ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; END IF; END $$;",
        )
        if not self._psql(bin_dir, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
            self._psql(bin_dir, f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def stop(self) -> None:
        bin_dir = server_bin_dir()
        if bin_dir is not None and self.is_running():
            self._run(bin_dir / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.services.postgres", description=__doc__)
    parser.add_argument("command", choices=["install", "start", "stop", "status", "url"])
    parser.add_argument("--dir", default=DEFAULT_DIR, help="cluster directory (under /tmp)")
    parser.add_argument("--port", type=int, help="port for a new cluster (default: first free)")
    args = parser.parse_args(argv)
    cluster = PostgresCluster(args.dir, args.port)
    if args.command == "install":
        print(install())
    elif args.command == "start":
        print(cluster.start())
    elif args.command == "stop":
        cluster.stop()
    elif args.command == "status":
        running = cluster.is_running()
        print(f"{'running' if running else 'stopped'} {cluster.url} dir={cluster.directory}")
        return 0 if running else 3
    else:
        print(cluster.url)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or ""
        sys.exit(f"error: {error}\n{detail}".rstrip())
