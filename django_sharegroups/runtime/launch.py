"""What ``runshareconsumers`` starts: the share groups' runner in this process (with its
metrics endpoint, summary lines and, for ``--demo``, the sample-record feeder), or a
supervisor of N such processes (``--processes N`` or a health probe; docs/capacity.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings as django_settings

from ..conf import get_settings
from ..exceptions import ConfigurationError
from ..instrumentation import events
from ..instrumentation.counts import EventCounts
from ..instrumentation.summary import SummaryLogger
from .metrics_endpoint import serve_metrics, serve_supervisor_metrics
from .process_identity import process_index
from .runner import ShareConsumerRunner
from .selection import select_share_groups
from .supervisor import supervise

logger = logging.getLogger("django_sharegroups.runtime")


@dataclass(frozen=True)
class Launch:
    """The command's options, as the runtime needs them."""

    groups: list[str]
    exclude_groups: list[str]
    metrics_port: int | None = None
    processes: int | None = None
    probe: str | None = None
    demo: bool = False
    records: int | None = None
    exit_when_done: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Launch:
        """From the command's parsed options (``--group`` is ``group``, a list; and so on)."""
        plural = {"groups": "group", "exclude_groups": "exclude_group"}
        return cls(**{f.name: options[plural.get(f.name, f.name)] for f in fields(cls)})

    def supervised(self) -> bool:
        """More than one process, or a probe: the supervisor runs (``--processes 1`` alone:
        not). A supervised child runs the command too, unsupervised."""
        if process_index() is not None:
            return False
        settings = get_settings()
        processes = self.processes or settings.processes
        return processes > 1 or bool(self.probe or settings.supervisor.probe)


def run_here(launch: Launch) -> tuple[int, str | None]:
    """Run the selected groups in this process until stopped; the exit code and, after a
    non-zero one, why the runner gave up (the group left without a live instance), if known."""
    if not launch.demo and (launch.records is not None or launch.exit_when_done):
        raise ConfigurationError("--records and --exit-when-done work with --demo only.")
    groups = select_share_groups(launch.groups, launch.exclude_groups)
    if not launch.demo:  # the in-memory demo is not production
        warn_if_debug()
    runner = ShareConsumerRunner(groups)
    interval = runner.settings.summary_interval
    counts = EventCounts()  # what the endpoint and the summary lines read
    names = [group.name for group in groups]
    if serve_metrics(launch.metrics_port, runner.settings, counts, names) or interval > 0:
        counts.subscribe(events)
    if interval > 0:
        SummaryLogger(counts, interval, names).start()
    if launch.demo:
        from .demo import start_demo

        start_demo(runner, records=launch.records, exit_when_done=launch.exit_when_done)
    exit_code = runner.run()
    return exit_code, (str(runner.group_down) if exit_code and runner.group_down else None)


def warn_if_debug() -> None:
    """One line at startup when ``DEBUG`` is on (Celery workers warn the same way): every SQL
    query of every job is then kept and formatted for ``connection.queries``."""
    if django_settings.DEBUG:
        logger.warning(
            "settings.DEBUG is on: Django keeps and formats every SQL query of every job, which "
            "slows database-bound consumers. Set DEBUG = False where runshareconsumers runs in "
            "production."
        )


def run_supervised(launch: Launch) -> int:
    """Start the supervisor of N processes and wait for it; its exit code."""
    if launch.demo:
        raise ConfigurationError("--demo feeds an in-memory broker, which lives in one process.")
    groups = select_share_groups(launch.groups, launch.exclude_groups)
    settings = get_settings()
    processes = launch.processes or settings.processes
    if launch.metrics_port is not None or settings.metrics_port is not None:
        serve_supervisor_metrics(
            launch.metrics_port, settings, processes, [group.name for group in groups]
        )
    return supervise([group.name for group in groups], processes, probe=launch.probe)
