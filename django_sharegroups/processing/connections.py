"""Django's per-request connection hygiene around jobs, without a health check per job.

Each job runs like a request: ``close_old_connections()`` before and after it, so a broken
connection or one older than ``CONN_MAX_AGE`` is closed. Django also forgets that a connection
passed its health check (``CONN_HEALTH_CHECKS``) at every such call, which costs the next job a
``SELECT 1`` round trip first. Jobs follow each other within milliseconds on a busy worker
thread: a connection that served this thread's last job without an error less than
``RECHECK_AFTER`` seconds ago keeps its health check. Broken connections, connections left in a
transaction and connections past ``CONN_MAX_AGE`` are still closed exactly as Django does.

A thread that holds no open connection has nothing to tidy: Django's ``connection_created``
signal tells which threads opened one since their last tidy, so a job that never touches the
database costs no look into Django's per-thread connection storage (about 7 µs a job, a sixth
of a ``per_message`` job's whole cost on a backlog). After a job that raised, the connections
are always tidied: Django sends that signal only once a connection is fully set up, so one
that broke while it was being opened (a server restarting) would otherwise stay, closed, in
the thread and fail every later job with "the connection is closed".
"""

from __future__ import annotations

import threading
import time

from django.db import connections
from django.db.backends.signals import connection_created

#: A connection that finished a job this recently (seconds) is not health-checked again.
RECHECK_AFTER = 1.0

_thread = threading.local()


def before_job() -> None:
    """Close what Django would close at the start of a request."""
    # A thread not seen yet may hold connections opened before this module was imported.
    if getattr(_thread, "opened", True):
        finished = getattr(_thread, "finished", -RECHECK_AFTER)
        _tidy(recent=time.monotonic() - finished < RECHECK_AFTER)


def after_job(failed: bool = False) -> None:
    """Close what Django would close at the end of a request; the connections left open count
    as just used by this thread (a thread without one has nothing to remember). ``failed``:
    the job raised, so look even if no connection was reported opened."""
    if failed or getattr(_thread, "opened", True):
        _tidy(recent=True)
        _thread.finished = time.monotonic()


def _tidy(*, recent: bool) -> None:
    still_open = False
    # ``health_check_done`` is Django's (4.1+); django-stubs does not declare it.
    for connection in connections.all(initialized_only=True):
        checked = connection.health_check_done  # type: ignore[attr-defined]
        keep_check = recent and checked and not connection.errors_occurred
        connection.close_if_unusable_or_obsolete()
        if connection.connection is not None:
            still_open = True
            if keep_check:
                connection.health_check_done = True  # type: ignore[attr-defined]
    _thread.opened = still_open


def _opened(sender, connection, **kwargs) -> None:
    """``connection_created``: sent in the thread that opened the connection."""
    _thread.opened = True


connection_created.connect(_opened, dispatch_uid="django_sharegroups.processing.connections")
