"""Where ``runshareconsumers`` logs when the project configured no logging for us."""

from __future__ import annotations

import logging

#: ``--verbosity`` → level of the ``django_sharegroups`` logger when the project set none.
VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO}


def log_to_console(verbosity: int) -> None:
    """A project that configured no logging for ``django_sharegroups`` still sees what the
    process does (started instances, archives, shutdown) on stderr, as ``runserver`` shows its
    requests; a project's own LOGGING setting always wins."""
    logger = logging.getLogger("django_sharegroups")
    if logger.handlers or logger.level != logging.NOTSET or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(VERBOSITY_LEVELS.get(verbosity, logging.DEBUG))
