"""``runshareconsumers --processes N``: a supervisor of N child processes on one host.

Python threads share one interpreter lock, so one process uses about one core whatever its
``concurrency``; CPU-bound consumers need processes. Each child is a fresh interpreter
(``python -m django_sharegroups.runtime.child``, see child.py) running today's
thread-per-instance runtime with its own clients and database connections — spawned, not
forked, because librdkafka's threads and open database connections do not survive a fork.
Children run the same share groups: the broker spreads records over all of their members.

The supervisor forwards SIGTERM / SIGINT / SIGTSTP to every child (a second TERM or INT makes
them exit at once, as for one process); restarts a child that died, after an exponential
backoff; gives up (stops the others, exit code 1) when one keeps dying; and on SIGHUP replaces
the children one at a time — drain (SIGTERM: running jobs finish and are acknowledged, the
rest released), then start the replacement, then the next — which also loads new code.
Its exit code is the worst of its children's final ones.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..conf import ShareGroupsSettings, get_settings
from ..exceptions import ConfigurationError
from ..instrumentation import EventBus, events
from .child import FORWARDED
from .probe import ProbeServer
from .runner import EXIT_FAILED, EXIT_FORCED, EXIT_OK
from .supervisor_settings import parse_address

logger = logging.getLogger("django_sharegroups.runtime")

RELOAD = signal.SIGHUP
#: The longest the loop sleeps; the liveness probe fails when it has not turned for LIVENESS_STALE.
TICK = 0.5
LIVENESS_STALE = 30.0


@dataclass
class Child:
    """One slot of the supervisor (``index``), and the process filling it now."""

    index: int
    process: subprocess.Popen | None = None
    status_fd: int | None = None
    #: starting → running (→ quiet) → draining → exited; waiting = backoff before a restart.
    state: str = "waiting"
    launches: int = 0
    #: Consecutive deaths; reset when the child ran ``stable_after`` seconds.
    deaths: int = 0
    restarts: int = 0
    launched_at: float = 0.0
    restart_at: float | None = None
    #: Reported ``process.started`` in its current launch (its listeners joined).
    consumed: bool = False
    #: Being drained for a rolling restart: start the replacement when it exits.
    replacing: bool = False
    exit_code: int | None = None
    _buffer: bytes = field(default=b"", repr=False)

    @property
    def pid(self) -> int | None:
        process = self.process  # the probe's thread reads while the loop replaces it
        return process.pid if process else None

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.pid,
            "state": self.state,
            "restarts": self.restarts,
            "deaths_in_a_row": self.deaths,
            "last_exit_code": self.exit_code,
        }


class Supervisor:
    """Runs ``processes`` children of ``runshareconsumers`` for ``share_groups`` (names)."""

    def __init__(
        self,
        share_groups: Sequence[str],
        processes: int,
        *,
        settings: ShareGroupsSettings | None = None,
        bus: EventBus = events,
        probe: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        if processes < 1:
            raise ConfigurationError(f"--processes must be at least 1, not {processes}.")
        if self.settings.client == "memory":
            raise ConfigurationError(
                "--processes needs a Kafka broker: the in-memory broker lives inside one "
                "process, so its children would each consume their own copy."
            )
        self.share_groups = list(share_groups)
        self.processes = processes
        self.options = self.settings.supervisor
        self.bus = bus
        self.probe_address = probe or self.options.probe
        self.children = [Child(index) for index in range(processes)]
        self.stopping = False
        self.quiet = False
        #: Exit code decided by the supervisor itself (a failed start, giving up).
        self.failure_code: int | None = None
        self.kill_at: float | None = None
        #: Children still to replace in a rolling restart, and when it began (0: none).
        self.rolling: deque[int] = deque()
        self.rolling_started = 0.0
        self.probe: ProbeServer | None = None
        self._pending_signals: deque[int] = deque()
        self._signals_seen = 0
        self._tick = time.monotonic()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signal_handlers()
        if self.probe_address:
            self.probe = ProbeServer(*parse_address(self.probe_address), self.status)
            self.probe.start()
        self.bus.publish(
            "supervisor.started",
            processes=self.processes,
            share_groups=self.share_groups,
            probe=self.probe.url if self.probe else None,
        )
        try:
            for child in self.children:
                self._launch(child)
            while not (self.stopping and all(c.process is None for c in self.children)):
                self._tick = time.monotonic()
                self._wait()
                self._handle_signals()
                self._reap()
                if self.stopping:
                    self._kill_overdue()
                else:
                    self._restart_due()
                    self._advance_rolling_restart()
        finally:
            if self.probe:
                self.probe.stop()
            self._selector.close()
            os.close(self._wake_read)
            os.close(self._wake_write)
        exit_code = self.exit_code()
        self.bus.publish(
            "supervisor.stopped",
            exit_code=exit_code,
            children={c.index: c.exit_code for c in self.children},
        )
        return exit_code

    def exit_code(self) -> int:
        """The supervisor's own failure, or else the worst of the children's last exits."""
        if self.failure_code is not None:
            return self.failure_code
        return max((self._outcome(child) for child in self.children), default=EXIT_OK)

    @staticmethod
    def _outcome(child: Child) -> int:
        code = child.exit_code
        if code is None or code == 0:
            return EXIT_OK
        if code < 0:  # killed by a signal: clean only if it never held a record
            return EXIT_FORCED if child.consumed else EXIT_OK
        return code

    def _wait(self) -> None:
        timeout = TICK
        due = [c.restart_at for c in self.children if c.restart_at is not None]
        if due and not self.stopping:
            timeout = max(0.0, min(timeout, min(due) - time.monotonic()))
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                try:
                    os.read(self._wake_read, 512)
                except BlockingIOError:
                    pass
            else:
                self._read_status(key.data)

    # -- children ------------------------------------------------------------------------------

    def _command(self, child: Child, status_fd: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "django_sharegroups.runtime.child",
            "--index",
            str(child.index),
            "--processes",
            str(self.processes),
            "--status-fd",
            str(status_fd),
            *self.share_groups,
        ]

    @staticmethod
    def _environment() -> dict[str, str]:
        """The supervisor's environment, plus what a fresh interpreter needs to find the
        project: its import path (manage.py's directory, ``--pythonpath``) and settings."""
        from django.conf import settings

        if not settings.SETTINGS_MODULE:
            raise ConfigurationError(
                "--processes needs DJANGO_SETTINGS_MODULE (or --settings): its children are new "
                "interpreters and import the settings themselves."
            )
        path = [os.path.abspath(entry) if entry else os.getcwd() for entry in sys.path]
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(path)),
            "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        }

    def _launch(self, child: Child) -> None:
        read_fd, write_fd = os.pipe()
        # Signals stay blocked in the child until its runner can handle them (see child.py).
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, RELOAD})
        try:
            child.process = subprocess.Popen(
                self._command(child, write_fd),
                env=self._environment(),
                pass_fds=(write_fd,),
                # its own process group: a terminal's Ctrl-C reaches the supervisor only,
                # which forwards it once (twice would mean "exit now")
                process_group=0,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        child.status_fd = read_fd
        self._selector.register(read_fd, selectors.EVENT_READ, child)
        child.launches += 1
        child.launched_at = time.monotonic()
        child.state = "starting"
        child.consumed = False
        child.restart_at = None
        self.bus.publish(
            "supervisor.child_started",
            index=child.index,
            pid=child.pid,
            launch=child.launches,
        )

    def _read_status(self, child: Child) -> None:
        if child.status_fd is None:
            return
        try:
            data = os.read(child.status_fd, 4096)
        except BlockingIOError:
            return
        if not data:
            self._close_status(child)
            return
        *lines, child._buffer = (child._buffer + data).split(b"\n")
        for line in lines:
            if line == b"process.started" and child.state == "starting":
                child.state = "quiet" if self.quiet else "running"
                child.consumed = True
                self.bus.publish("supervisor.child_ready", index=child.index, pid=child.pid)
            elif line == b"process.quiet" and child.state in ("starting", "running"):
                child.state = "quiet"

    def _close_status(self, child: Child) -> None:
        if child.status_fd is not None:
            self._selector.unregister(child.status_fd)
            os.close(child.status_fd)
            child.status_fd = None

    def _reap(self) -> None:
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                continue
            if child.status_fd is not None:  # read what it said last, then let go
                self._read_status(child)
                self._close_status(child)
            self._exited(child, child.process.returncode)

    def _exited(self, child: Child, code: int) -> None:
        pid, ran = child.pid, time.monotonic() - child.launched_at
        child.process = None
        child.exit_code = code
        child.state = "exited"
        expected = self.stopping or child.replacing
        self.bus.publish(
            "supervisor.child_exited",
            index=child.index,
            pid=pid,
            exit_code=code,
            expected=expected,
            seconds=round(ran, 1),
        )
        if child.replacing and not self.stopping:
            child.replacing = False
            child.restarts += 1
            self._launch(child)
            return
        if expected:
            return
        if child.launches == 1 and not child.consumed and not self._any_consumed():
            # the first start failed: report it as a single process would, do not retry
            self.failure_code = code if code > 0 else EXIT_FAILED
            self._stop(signal.SIGTERM, reason=f"process {child.index} failed to start")
            return
        child.deaths = 1 if ran >= self.options.stable_after else child.deaths + 1
        if child.deaths > self.options.restart_limit:
            self.failure_code = EXIT_FAILED
            self.bus.publish(
                "supervisor.gave_up", index=child.index, deaths=child.deaths, exit_code=code
            )
            self._stop(signal.SIGTERM, reason=f"process {child.index} keeps dying")
            return
        if self.quiet:
            logger.warning("Process %d not restarted: the supervisor is quiet", child.index)
            return
        delay = self.options.backoff(child.deaths)
        child.state = "waiting"
        child.restart_at = time.monotonic() + delay
        self.bus.publish(
            "supervisor.child_restarting",
            index=child.index,
            attempt=child.deaths,
            delay=delay,
        )

    def _any_consumed(self) -> bool:
        return any(c.consumed or c.launches > 1 for c in self.children)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None and child.restart_at <= now:
                child.restarts += 1
                self._launch(child)

    def _kill_overdue(self) -> None:
        if self.kill_at is None or time.monotonic() < self.kill_at:
            return
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                logger.error(
                    "Process %d (pid %d) did not stop in time: killing it", child.index, child.pid
                )
                child.process.kill()
                child.consumed = True  # whatever it held comes back after its lock expires
        self.kill_at = None

    # -- signals -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        for signum in (*FORWARDED, RELOAD):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        # only note it: the loop acts on it (a handler may interrupt the loop anywhere)
        self._pending_signals.append(signum)
        try:
            os.write(self._wake_write, b"\0")
        except (BlockingIOError, OSError):
            pass

    def _handle_signals(self) -> None:
        while self._pending_signals:
            signum = self._pending_signals.popleft()
            name = signal.Signals(signum).name
            if signum == RELOAD:
                self._start_rolling_restart()
            elif signum == signal.SIGTSTP:
                logger.info("%s received: children stop polling and finish their jobs", name)
                self.quiet = True
                self._forward(signum)
            else:
                self._signals_seen += 1
                reason = f"{name} received" + (" again" if self._signals_seen > 1 else "")
                self._stop(signum, reason=reason)

    def _stop(self, signum: int, *, reason: str) -> None:
        first = not self.stopping
        self.stopping = True
        self.rolling.clear()
        for child in self.children:
            if child.process is None:
                child.restart_at = None
                child.state = "exited"
        if first:
            self.kill_at = (
                time.monotonic() + self.settings.shutdown_timeout + self.options.kill_grace
            )
        forwarded = self._forward(signum, again=not first and self._signals_seen > 1)
        self.bus.publish(
            "supervisor.stopping", reason=reason, signal=signal.Signals(signum).name, to=forwarded
        )

    def _forward(self, signum: int, *, again: bool = False) -> list[int]:
        """Send ``signum`` to every live child; a stop signal skips those draining already,
        unless it is the second one (then they exit at once, as asked)."""
        stop = signum in (signal.SIGTERM, signal.SIGINT)
        sent = []
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                if stop and child.state == "draining" and not again:
                    continue
                if stop:
                    child.state = "draining"
                child.process.send_signal(signum)
                if child.pid is not None:
                    sent.append(child.pid)
        return sent

    # -- rolling restart -----------------------------------------------------------------------

    def _start_rolling_restart(self) -> None:
        if self.stopping or self.quiet:
            logger.warning("SIGHUP ignored: the supervisor is stopping or quiet")
            return
        if self.rolling:
            logger.warning("SIGHUP ignored: a rolling restart is already under way")
            return
        self.rolling.extend(child.index for child in self.children)
        self.rolling_started = time.monotonic()
        self.bus.publish("supervisor.rolling_restart", processes=list(self.rolling))

    def _advance_rolling_restart(self) -> None:
        """Drain one child at a time; the next only once its replacement is consuming."""
        while self.rolling:
            if any(c.replacing or c.state == "starting" for c in self.children):
                return
            child = self.children[self.rolling.popleft()]
            if child.process is None or child.launched_at >= self.rolling_started:
                continue  # dead (its restart loads the new code too) or replaced already
            child.replacing = True
            child.state = "draining"
            child.process.send_signal(signal.SIGTERM)
            return
        if self.rolling_started and not any(c.replacing for c in self.children):
            self.rolling_started = 0.0
            self.bus.publish("supervisor.rolling_restart_finished", processes=self.processes)

    # -- probe ---------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the probe reports (called from its thread: reads only)."""
        children = [child.describe() for child in self.children]
        live = self.failure_code is None and time.monotonic() - self._tick < LIVENESS_STALE
        ready = (
            live
            and not self.stopping
            and not self.quiet
            and all(child["state"] == "running" for child in children)
        )
        return {
            "live": live,
            "ready": ready,
            "pid": os.getpid(),
            "processes": self.processes,
            "stopping": self.stopping,
            "quiet": self.quiet,
            "rolling_restart": list(self.rolling),
            "children": children,
        }


def supervise(share_groups: Sequence[str], processes: int, *, probe: str | None = None) -> int:
    """What ``runshareconsumers --processes N`` runs; returns the exit code."""
    return Supervisor(share_groups, processes, probe=probe).run()
