"""Which child of a ``--processes`` supervisor this process is; ``None`` when unsupervised.

The child index goes into client ids (the broker's member list), ConsumerProcess rows and
every ``django_sharegroups`` log line, so an operator can tell the children of one host apart.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket

_index: int | None = None
_label = ""


def set_process_index(index: int, total: int) -> None:
    """Called once, first thing in a supervised child, before any client or log line exists."""
    global _index, _label
    _index = index
    _label = f"[process {index}/{total}] "
    # for the project's own log lines: ``%(processName)s`` in a LOGGING format shows it
    multiprocessing.current_process().name = f"sharegroups-process-{index}"
    make_record = logging.getLogRecordFactory()

    def labelled_record(name, *args, **kwargs):
        record = make_record(name, *args, **kwargs)
        if name.startswith("django_sharegroups") and isinstance(record.msg, str):
            record.msg = _label + record.msg
        return record

    logging.setLogRecordFactory(labelled_record)


def process_index() -> int | None:
    return _index


def client_id(share_group: str, instance: int) -> str:
    """``host-pid-group-instance``, with ``-p<index>`` after the pid in a supervised child."""
    child = "" if _index is None else f"-p{_index}"
    return f"{socket.gethostname()}-{os.getpid()}{child}-{share_group}-{instance}"
