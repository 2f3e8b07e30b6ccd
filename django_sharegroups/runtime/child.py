"""One supervised child: ``python -m django_sharegroups.runtime.child``, started by supervisor.py.

A fresh interpreter, not a fork: it sets Django up itself and creates its own Kafka clients and
database connections, so nothing the supervisor holds (librdkafka threads, sockets, database
connections) is shared. The supervisor starts it with TERM/INT/TSTP/HUP blocked; they stay
pending until the runner has installed its handlers and every listener has joined
(``process.started``), so a stop asked for during startup is a clean stop, never a kill.

It runs the ``runshareconsumers`` command itself, so a child behaves exactly like one
unsupervised process (errors, exit codes). It tells the supervisor how it is doing by writing
event names, one per line, to ``--status-fd``; it stops by itself (like SIGTERM) when the
supervisor is gone.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from typing import IO

#: Signals the supervisor forwards; HUP (rolling restart) is the supervisor's alone.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGTSTP)
#: Seconds between checks that the supervisor is still alive.
PARENT_CHECK_INTERVAL = 1.0

logger = logging.getLogger("django_sharegroups.runtime")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m django_sharegroups.runtime.child")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--status-fd", type=int, required=True)
    parser.add_argument("groups", nargs="+", metavar="GROUP")
    return parser.parse_args(argv)


def report_status(status: IO[str]):
    """An event listener writing ``process.started`` / ``process.quiet`` to the supervisor."""

    def report(event: str, payload: dict) -> None:
        try:
            status.write(f"{event}\n")
        except OSError:  # the supervisor is gone: the parent watcher stops us
            pass
        if event == "process.started":
            # published on the main thread once the runner's handlers are installed
            signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)

    return report


def watch_parent(parent: int) -> None:
    """Stop cleanly, as on SIGTERM, if the supervisor dies (e.g. ``kill -9``)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_INTERVAL)
        logger.error("The supervisor (pid %d) is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)  # pending until the runner can handle it

    threading.Thread(target=watch, name="sharegroups:parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Run ``runshareconsumers`` for the groups, exactly as one unsupervised process does."""
    args = parse_arguments(argv)
    parent = os.getppid()
    from .process_identity import set_process_index

    set_process_index(args.index, args.processes)
    status = os.fdopen(args.status_fd, "w", buffering=1)

    import django

    django.setup()

    from django.core.management import execute_from_command_line

    from ..instrumentation import events

    events.subscribe("process.started", report_status(status))
    events.subscribe("process.quiet", report_status(status))
    watch_parent(parent)
    # exits with the command's code; a child never supervises (see process_identity)
    execute_from_command_line(
        ["manage.py", "runshareconsumers", *(f"--group={group}" for group in args.groups)]
    )


if __name__ == "__main__":
    main()
