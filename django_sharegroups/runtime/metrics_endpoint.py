"""Starting the Prometheus ``/metrics`` endpoint of a ``runshareconsumers`` process: one
process serves its own counts; a supervisor serves its children's added up, each child on a
loopback port of its own after the supervisor's. The exporter is instrumentation/prometheus.py."""

from __future__ import annotations

import logging
import os
from types import ModuleType

from ..conf import ShareGroupsSettings
from ..exceptions import ConfigurationError
from ..instrumentation.counts import EventCounts
from .process_identity import process_index

logger = logging.getLogger("django_sharegroups")

#: The supervisor's metrics port, for its children (they serve on the ports after it).
CHILD_METRICS_PORT = "SHAREGROUPS_SUPERVISOR_METRICS_PORT"


def _prometheus() -> ModuleType:
    try:
        from ..instrumentation import prometheus
    except ImportError as exc:
        raise ConfigurationError(
            f"Metrics need prometheus-client ({exc}): pip install 'django-sharegroups[metrics]'."
        ) from exc
    return prometheus


def _bind_error(address: str, port: int | None, exc: OSError) -> ConfigurationError:
    return ConfigurationError(f"Cannot serve metrics on {address}:{port}: {exc.strerror or exc}.")


def serve_supervisor_metrics(port: int | None, settings: ShareGroupsSettings, processes: int):
    """``--processes N``: one endpoint adding up the children's (each on a port of its own
    after this one, loopback only)."""
    port = settings.metrics_port if port is None else port
    os.environ[CHILD_METRICS_PORT] = str(port)  # the children inherit the environment
    try:
        _prometheus().start_supervisor_exporter(port, settings.metrics_address, processes)
    except OSError as exc:
        raise _bind_error(settings.metrics_address, port, exc) from exc
    logger.info(
        "Metrics of %d processes on http://%s:%d/metrics", processes, settings.metrics_address, port
    )


def serve_metrics(port: int | None, settings: ShareGroupsSettings, counts: EventCounts) -> bool:
    """Start the Prometheus endpoint when a port is given (option first, then the setting);
    a supervised child serves on its own port for the supervisor to read."""
    port = settings.metrics_port if port is None else port
    index = process_index()
    if index is not None:
        port = int(os.environ[CHILD_METRICS_PORT]) if CHILD_METRICS_PORT in os.environ else None
    if port is None:
        return False
    prometheus, address = _prometheus(), settings.metrics_address
    if index is not None:
        port, address = prometheus.child_port(port, index), "127.0.0.1"
    try:
        prometheus.start_exporter(port, address, counts=counts)
    except OSError as exc:
        raise _bind_error(address, port, exc) from exc
    logger.info("Metrics on http://%s:%d/metrics", address, port)
    return True
