"""The process runner: starts a listener thread per share-consumer instance, stops them cleanly.

Stop sequence (SIGTERM / SIGINT): listeners stop polling, the running jobs finish and their
acknowledgements are sent, unstarted jobs are RELEASEd, every client is closed. If that takes
longer than ``shutdown_timeout`` — or a second signal arrives — the process exits non-zero and
reports what was still running. SIGTSTP is "quiet": the same, but the process stays up (for
orchestrators that drain a process before they stop it) until SIGTERM/SIGINT.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Sequence
from types import FrameType

from ..clients import build_client_factory
from ..clients.base import ShareConsumerClientFactory
from ..conf import ShareGroupsSettings, get_settings
from ..instrumentation import EventBus, events
from ..instrumentation.otel import job_tracer
from ..routing import ShareGroup
from ..routing.settings import GroupSettings
from .listener import ShareGroupListener
from .preflight import GroupLimits, check_capabilities, resolve_limits
from .supervision import GroupDown, ListenerSupervisor
from .workers import WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")

#: Young-generation threshold while consuming (CPython's default: 700). The records of a poll
#: (a few thousand objects) live until their job is settled; collected every 700 allocations
#: they are scanned and promoted again and again. Past 50,000 most of a poll's objects are
#: gone when the collector runs: 10-15 % less CPU per record (docs/benchmarks.md).
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_collector() -> None:
    """Raise the young generation's threshold (never lower one a project set higher)."""
    young, *older = gc.get_threshold()
    if 0 < young < YOUNG_GENERATION_THRESHOLD:
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *older)


EXIT_OK = 0
#: Listeners did not stop within the shutdown timeout, or a second signal forced the exit.
EXIT_FORCED = 2
#: A listener could not start, or one had died and was not running again at the end.
EXIT_FAILED = 1
#: A share group had no live instance for ``GROUP_DOWN_TIMEOUT`` seconds (listeners kept
#: dying, or its polls kept failing); the log names the group and the cause.
EXIT_GROUP_DOWN = 3


class ShareConsumerRunner:
    """Runs the given share groups in this process until asked to stop."""

    def __init__(
        self,
        share_groups: Sequence[ShareGroup],
        *,
        settings: ShareGroupsSettings | None = None,
        bus: EventBus = events,
        factories: dict[str, ShareConsumerClientFactory] | None = None,
    ) -> None:
        self.share_groups = list(share_groups)
        self.settings = settings or get_settings()
        self.bus = bus
        self.factories = dict(factories or {})
        #: Tracing on: the span of each job (ConfigurationError here if OpenTelemetry is missing).
        self.tracer = job_tracer(self.settings.tracing)
        #: Tells listeners to stop polling; ``exit_event`` ends the process.
        self.stop_event = threading.Event()
        self.exit_event = threading.Event()
        self.listeners: list[ShareGroupListener] = []
        self.supervisor: ListenerSupervisor | None = None
        #: Set when a group stayed without a live instance too long (the process gives up).
        self.group_down: GroupDown | None = None
        self._limits: dict[str, GroupLimits] = {}
        self._group_settings: dict[str, GroupSettings] = {}
        #: Per share group run with concurrency > 1: its instances' worker pools (workers.py).
        self._lending: dict[str, list[WorkerPool]] = {}
        self._signals_received = 0
        self.broker_dead_letter_topics: dict[str, str] = {}

    def _factory(self, name: str) -> ShareConsumerClientFactory:
        if name not in self.factories:
            self.factories[name] = build_client_factory(name, self.settings)
        return self.factories[name]

    def preflight(self) -> dict[str, GroupLimits]:
        """Before consuming: the broker can serve the groups, every feature fits its adapter,
        and each group's lock duration and delivery limit are known."""
        by_factory: dict[int, list[str]] = {}
        for group in self.share_groups:
            factory = self._factory(group.client or self.settings.client)
            by_factory.setdefault(id(factory), []).append(group.name)
        for factory in self.factories.values():  # first: it names an unreachable broker
            if id(factory) in by_factory:
                factory.preflight(by_factory[id(factory)])
        limits = {}
        for group in self.share_groups:
            factory = self._factory(group.client or self.settings.client)
            limits[group.name] = resolve_limits(group, factory)
            check_capabilities(group, factory, limits[group.name])
        from ..broker_dlq.setup import configure_broker_dlq

        #: ``{share group: broker-side DLQ topic}``, mirrored by broker_dlq.watcher.
        self.broker_dead_letter_topics = configure_broker_dlq(self.share_groups, self.settings)
        return limits

    def start(self) -> None:
        """Check, start every listener and wait until each has joined or failed to."""
        self._limits = self.preflight()
        for group in self.share_groups:
            self._group_settings[group.name] = settings = GroupSettings.build(group)
            for index in range(group.concurrency):
                self.listeners.append(self._listener(settings, index))
        for listener in self.listeners:
            listener.start()
        for listener in self.listeners:
            listener.started_consuming.wait()
        self.supervisor = ListenerSupervisor(
            self.listeners,
            lambda dead: self._listener(dead.share_group, dead.index),
            bus=self.bus,
            stop_event=self.stop_event,
            group_down_timeout=self.settings.group_down_timeout,
            on_group_down=self._on_group_down,
        )
        self.supervisor.start()
        self.bus.publish("process.started", runner=self)
        # Everything built so far (routes, modules, clients) lives as long as the process:
        # keep it out of the collector's generations, so collections stay short.
        gc.freeze()
        tune_collector()

    def _listener(self, settings: GroupSettings, index: int) -> ShareGroupListener:
        return ShareGroupListener(
            settings,
            index,
            self._factory(settings.route.client or self.settings.client),
            stop_event=self.stop_event,
            bus=self.bus,
            poll_timeout=self.settings.poll_timeout,
            commit_timeout=min(self.settings.shutdown_timeout, 30.0),
            limits=self._limits[settings.name],
            tracer=self.tracer,
            lending=self._lending.setdefault(settings.name, [])
            if settings.concurrency > 1
            else None,
        )

    def _on_group_down(self, down: GroupDown) -> None:
        self.group_down = down
        logger.error("Giving up: %s", down)
        self.bus.publish(
            "group.down", share_group=down.share_group, seconds=down.seconds, cause=down.cause
        )
        self.stop()

    def stop(self) -> None:
        """Ask every listener to stop after its current job, then end the process."""
        self.stop_event.set()
        self.exit_event.set()

    def quiet(self) -> None:
        """Stop polling and finish the running jobs, but keep the process up."""
        for listener in self.listeners:
            listener.quiet_requested = True
        self.stop_event.set()
        self.bus.publish("process.quiet", listeners=len(self.listeners))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the listeners to finish; True when all did within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for listener in self.listeners:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            listener.join(remaining)
        return not any(listener.is_alive() for listener in self.listeners)

    def running_jobs(self) -> list[str]:
        return [
            f"{listener.name}: {listener.current_job}"
            for listener in self.listeners
            if listener.is_alive() and listener.current_job
        ]

    def run(self, *, handle_signals: bool = True) -> int:
        """Start, block until stopped (signal or every listener gone), shut down; exit code."""
        if handle_signals:
            self._install_signal_handlers()
        self.start()
        failed = [listener for listener in self.listeners if listener.startup_error]
        if failed:
            self.stop()
        self.exit_event.wait()
        return self.shutdown(EXIT_FAILED if failed else EXIT_OK)

    def shutdown(self, exit_code: int = EXIT_OK) -> int:
        """Stop and report. ``clean`` is True only when every listener stopped in time and none
        died on the way; the exit code is non-zero when one was not running at the end."""
        self.stop()
        if self.supervisor is not None:
            self.supervisor.stop()
        joined = self.join(self.settings.shutdown_timeout)
        still_running = self.running_jobs()
        deaths = self.supervisor.deaths if self.supervisor is not None else 0
        failed = [listener.name for listener in self.listeners if listener.failure is not None]
        clean = joined and not deaths and not failed
        if self.group_down is not None:
            exit_code = EXIT_GROUP_DOWN
        elif not joined:
            exit_code = EXIT_FORCED
        elif failed and exit_code == EXIT_OK:
            exit_code = EXIT_FAILED
        for factory in self.factories.values():
            try:
                factory.close()
            except Exception:
                logger.exception("Closing %r failed", factory)
        self.bus.publish(
            "process.shutdown",
            clean=clean,
            still_running=still_running,
            listeners=len(self.listeners),
            restarts=self.supervisor.restarts if self.supervisor is not None else 0,
            failed=failed,
            group_down=str(self.group_down) if self.group_down is not None else None,
            exit_code=exit_code,
        )
        return exit_code

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGTSTP, self._on_quiet_signal)

    def _on_quiet_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("SIGTSTP received: quiet mode, no more polling; the process stays up")
        self.quiet()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals_received += 1
        if self._signals_received == 1:
            logger.info("%s received: stopping after the running jobs", signal.Signals(signum).name)
            self.stop()
            return
        logger.error(
            "%s received again: exiting now; still running: %s",
            signal.Signals(signum).name,
            self.running_jobs() or "nothing",
        )
        import os

        os._exit(EXIT_FORCED)
