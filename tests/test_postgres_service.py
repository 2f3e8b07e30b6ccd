"""``python -m tests.services.postgres start --port N`` pins the port of a new cluster."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import REPO_ROOT, require_or_skip
from tests.services import postgres as postgres_service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.services.postgres", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_start_with_port_uses_that_port_and_keeps_it(tmp_path_factory) -> None:
    if postgres_service.server_bin_dir() is None:
        require_or_skip("postgres", "no PostgreSQL server is installed")
    directory = Path("/tmp") / f"sharegroups-pg-port-{tmp_path_factory.getbasetemp().name}"
    port = _free_port()
    try:
        started = _cli("start", "--dir", str(directory), "--port", str(port))
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip().endswith(f"@127.0.0.1:{port}/sharegroups")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        # The port is remembered: a later `url` without --port names the same one ...
        assert _cli("url", "--dir", str(directory)).stdout.strip().endswith(f":{port}/sharegroups")
        # ... and asking a set-up cluster for another port is a clear error, not a silent move.
        _cli("stop", "--dir", str(directory))
        moved = _cli("start", "--dir", str(directory), "--port", str(_free_port()))
        assert moved.returncode != 0
        assert f"was set up on port {port}" in moved.stderr
    finally:
        _cli("stop", "--dir", str(directory))
        shutil.rmtree(directory, ignore_errors=True)


def test_start_refuses_a_taken_port(tmp_path_factory) -> None:
    if postgres_service.server_bin_dir() is None:
        require_or_skip("postgres", "no PostgreSQL server is installed")
    directory = Path("/tmp") / f"sharegroups-pg-taken-{tmp_path_factory.getbasetemp().name}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            result = _cli("start", "--dir", str(directory), "--port", str(port))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    assert result.returncode != 0
    assert f"port {port} is already taken" in result.stderr


pytestmark = pytest.mark.timeout(300)
