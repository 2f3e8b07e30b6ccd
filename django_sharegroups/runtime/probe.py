"""The supervisor's health probe: a small HTTP server for orchestrators (stdlib ``http.server``).

``GET /live`` answers 200 while the supervisor's loop turns and it has not given up, ``GET
/ready`` 200 while every child is consuming (not starting, restarting, draining or quiet), 503
otherwise; both carry the JSON of ``GET /status``. Why HTTP rather than a heartbeat file: a
Kubernetes ``httpGet`` probe and ``curl`` need nothing inside the container, the answer is the
supervisor's state at that moment rather than a file's age, and nothing has to write to disk.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger("django_sharegroups.runtime")

Status = Callable[[], dict[str, Any]]


class ProbeServer:
    """Serves ``status()`` (a dict with at least ``live`` and ``ready``) on ``host:port``."""

    def __init__(self, host: str, port: int, status: Status) -> None:
        handler = type("ProbeHandler", (ProbeHandler,), {"status": staticmethod(status)})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="sharegroups:probe", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}/"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ProbeHandler(BaseHTTPRequestHandler):
    status: Status
    PATHS = {"/live": "live", "/ready": "ready", "/status": None, "/": None}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path not in self.PATHS:
            code, state = 404, {"error": "no such probe; try /live, /ready or /status"}
        else:
            state = self.status()
            check = self.PATHS[path]
            code = 200 if check is None or state[check] else 503
        body = json.dumps(state, indent=1).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        logger.debug("probe: " + format, *args)
